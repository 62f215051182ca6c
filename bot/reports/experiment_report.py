"""The wording experiments of the period's offices (figure_types.py,
`ExperimentReport`): each sent reminder with a variant of its office's
experiment becomes a VariantOutcome, with its attendance from the booking
system, and bot/reports/experiments.py compares the variants. Pure
computation, no I/O."""
from __future__ import annotations

from typing import Iterator, List, Mapping, Optional, Sequence

from bot.booking import ATTENDED, NO_SHOW, Appointment
from bot.reminders import states
from bot.reports.experiments import ExperimentFigures, VariantOutcome, experiment_figures
from bot.reports.figure_types import ExperimentReport
from bot.reports.office_setup import OfficeSetup
from bot.reports.reminder_history import ReminderFacts

# The smallest difference in answer rate worth seeing: 5 percentage points.
MINIMUM_EFFECT = 0.05


def experiment_reports(facts: Sequence[ReminderFacts], appointments: Sequence[Appointment],
                       setups: Mapping[str, OfficeSetup]) -> List[ExperimentReport]:
    """One report per office whose experiment had sent reminders, by office id."""
    attendance = {a.id: _no_show(a) for a in appointments}
    figures = experiment_figures(_outcomes(facts, attendance, setups), MINIMUM_EFFECT)
    return [_report(f, setups[f.office_id]) for f in figures]


def _no_show(appointment: Appointment) -> Optional[bool]:
    """True for a no-show, False for an attended appointment, None while
    unknown (not recorded yet, or cancelled)."""
    return {NO_SHOW: True, ATTENDED: False}.get(appointment.status)


def _outcomes(facts: Sequence[ReminderFacts], attendance: Mapping[str, Optional[bool]],
              setups: Mapping[str, OfficeSetup]) -> Iterator[VariantOutcome]:
    for f in facts:
        reminder, variant = f.reminder, f.reminder.variant
        setup = setups.get(reminder.office_id or "")
        experiment = setup.experiment if setup else None
        # A variant the experiment does not list is an earlier experiment's.
        if f.sent_at is None or experiment is None or variant is None or variant not in experiment.variants:
            continue
        yield VariantOutcome(reminder.office_id or "", experiment.name, variant, f.answered,
                             f.state == states.CANCELLED, attendance.get(reminder.appointment_id))


def _report(figures: ExperimentFigures, setup: OfficeSetup) -> ExperimentReport:
    return ExperimentReport(**vars(figures), retired=setup.retired())
