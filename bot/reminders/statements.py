"""The reminder store's statements for what happens to every reminder (the
claim, the send, each delivery status), built once with bound parameters.

Building a SQLAlchemy statement and working out its cache key on every call
cost more CPU than running it: the claim and the record of the send were a
quarter of the Rasa server's CPU in a dispatch (python -m bench.rasa_profile).
A statement built once keeps its cache key, so a call only binds values.
The parameters are named b_* because an UPDATE reserves the column names
for the values it sets, which are passed by column name at execution.
"""
from __future__ import annotations

from sqlalchemy import bindparam, insert, select, update

from bot.reminders.records import earlier_messages, reminder_events, reminders, unmatched_statuses

BY_APPOINTMENT = select(reminders).where(reminders.c.appointment_id == bindparam("b_appointment"))
LOCKED_BY_APPOINTMENT = BY_APPOINTMENT.with_for_update()
LOCKED_BY_MESSAGE = select(reminders).where(
    reminders.c.provider_message_id == bindparam("b_message")).with_for_update()
ID_AND_TOUCH = select(reminders.c.id, reminders.c.touch).where(
    reminders.c.appointment_id == bindparam("b_appointment"))

# The columns set are the execution's other parameters.
MOVE_FROM_STATE = update(reminders).where(
    (reminders.c.appointment_id == bindparam("b_appointment")) & (reminders.c.state == bindparam("b_state")))
UPDATE_IF_STATE = update(reminders).where(
    (reminders.c.id == bindparam("b_id")) & (reminders.c.state == bindparam("b_state")))

ADD_EVENT = insert(reminder_events)
EARLIER_MESSAGE = select(earlier_messages).where(earlier_messages.c.message_id == bindparam("b_message"))
ADD_UNMATCHED = insert(unmatched_statuses)
ANY_UNMATCHED = select(unmatched_statuses.c.id).where(
    unmatched_statuses.c.message_id == bindparam("b_message")).limit(1)
