"""Service figures ("reports") of Recorda: how many reminders reached
citizens, how and how fast they answered, what that did to no-shows, and what
the messages cost, for a period of service days and optionally one office.

    figure_types.py     what each figure is (the types, their definitions)
    reminder_history.py what the figures read of one reminder's history
    whatsapp_cost.py    what the reminders cost on WhatsApp
    touch_history.py    each touch's send of a reminder, with the answers it got
    touch_figures.py    sends, answers and cancels by touch
    experiments.py      wording experiments compared (intervals, sample sizes)
    experiment_report.py the experiments of the period's offices
    send_time.py        the hour whose sends are answered within 2 h most often
    send_time_report.py that advice per office, next to its send_at
    office_setup.py     what the figures know of an office (offices.yml, retired variants)
    freed_slot_figures.py freed slots offered to the waiting list, booked again or not and why
    compute.py          the figures of a period (pure, shared with the console)
    load.py             reads the reminder and offer stores, the booking system and the offices' setup
    the command: python -m bot.apps.reports --from 2026-11-01 --to 2026-11-30 [--json|--csv]
"""
from bot.reports.compute import compute_figures
from bot.reports.figure_types import REFERENCE, Figures, Period, Share
from bot.reports.reminder_history import ReminderHistory
from bot.reports.whatsapp_cost import Pricing

__all__ = ["REFERENCE", "Figures", "Period", "Pricing", "ReminderHistory", "Share", "compute_figures"]
