"""Day-before reminders: the daily job, the reminder store and its states."""
