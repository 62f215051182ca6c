"""Service figures ("reports") of Recorda: how many reminders reached
citizens, how and how fast they answered, what that did to no-shows, and what
the messages cost, for a period of service days and optionally one office.

    figures.py  pure computation (shared with the staff console)
    load.py     reads the reminder store and the booking system
    the command: python -m bot.apps.reports --from 2026-11-01 --to 2026-11-30 [--json|--csv]
"""
from bot.reports.figures import (REFERENCE, Figures, Period, Pricing, ReminderHistory, Share,
                                 compute_figures)

__all__ = ["REFERENCE", "Figures", "Period", "Pricing", "ReminderHistory", "Share", "compute_figures"]
