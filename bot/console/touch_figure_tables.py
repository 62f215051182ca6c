"""The figures page's tables of touches, wording experiments and send-time
advice (the figures' `touches`, `experiments` and `send_time_advice`,
bot/reports/figure_types.py), made as the other tables are
(figure_table_types.py): pure and language-free."""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from bot.console.figure_table_types import (
    COUNT,
    INTERVAL,
    NUMBER,
    PERCENT,
    TEXT,
    WORD,
    Column,
    FigureTable,
    Interval,
    Note,
    Row,
)
from bot.reports.experiments import Difference, EstimatedShare
from bot.reports.figure_types import ExperimentReport, Figures, TouchFigures
from bot.reports.send_time import SendHourAdvice

ACTIVE, RETIRED = "active", "retired"  # a variant's status: `figures_word_<status>`


def _interval(low: Optional[float], high: Optional[float]) -> Optional[Interval]:
    return None if low is None or high is None else Interval(low, high)


def _estimate(s: EstimatedShare) -> Tuple:
    """A share's value and its interval: two cells."""
    return s.value, _interval(s.low, s.high)


def touches_table(f: Figures) -> FigureTable:
    """Sends, answers and cancels by touch: per office when the page shows
    several (each office's touches, then every office's as totals)."""
    def row(key: str, label: str, t: TouchFigures, total: bool = False) -> Row:
        return Row(key, (t.sent, t.answered.part, t.answered.value, t.cancelled.part, t.cancelled.value),
                   label=label, total=total)

    offices = f.touches.by_office
    rows: List[Row] = []
    if len(offices) > 1:
        rows += [row(f"{office}:{t.touch}", f"{office} · {t.touch}", t)
                 for office, touches in offices.items() for t in touches]
    rows += [row(t.touch, t.touch, t, total=len(offices) > 1) for t in f.touches.overall]
    columns = (Column("sent", COUNT), Column("answered", COUNT), Column("answer_rate", PERCENT),
               Column("cancelled", COUNT), Column("cancellation_rate", PERCENT))
    return FigureTable("touches", "figures_rowhead_touch", columns, tuple(rows), chart="bar",
                       plotted=("sent", "answered"), notes=(Note("figures_note_touch_answer"),))


def experiments_table(f: Figures) -> FigureTable:
    """Each variant of each office's wording experiment: its appointments
    (sent reminders) and rates with their 95 % intervals; the notes compare
    the variants."""
    several = len(f.experiments) > 1
    rows, notes = [], []
    for e in f.experiments:
        for v in e.variants:
            rows.append(Row(f"{e.office_id}:{e.experiment}:{v.variant}",
                            (RETIRED if e.retired.get(v.variant) else ACTIVE, v.appointments,
                             *_estimate(v.answer_rate), *_estimate(v.cancellation_rate),
                             v.attendance_known, *_estimate(v.no_show_rate)),
                            label=f"{e.office_id} · {v.variant}" if several else v.variant))
        notes += _experiment_notes(e)
    columns = (Column("status", WORD), Column("appointments", COUNT),
               Column("answer_rate", PERCENT), Column("answer_rate_interval", INTERVAL),
               Column("cancellation_rate", PERCENT), Column("cancellation_rate_interval", INTERVAL),
               Column("recorded", COUNT),
               Column("no_show_rate", PERCENT), Column("no_show_rate_interval", INTERVAL))
    return FigureTable("experiments", "figures_rowhead_variant", columns, tuple(rows), chart="bar",
                       plotted=("answer_rate",), notes=tuple(notes))


def _experiment_notes(e: ExperimentReport) -> List[Note]:
    which: Dict[str, Tuple[str, object]] = {"experiment": (TEXT, e.experiment), "office": (TEXT, e.office_id),
                                            "effect": (NUMBER, e.minimum_effect * 100)}
    notes = []
    if e.answer_rate_difference is not None:
        notes.append(Note("figures_note_experiment_difference", {
            **which, "leader": (TEXT, e.leader), "runner_up": (TEXT, e.runner_up),
            **_points(e.answer_rate_difference)}))
    notes.append(Note(f"figures_verdict_{e.verdict}", {**which, "leader": (TEXT, e.leader or "")}))
    notes.append(Note("figures_note_experiment_needed", {
        **which, "needed": (COUNT, e.appointments_needed), "still": (COUNT, e.still_needed)}))
    return notes


def _points(d: Difference) -> Dict[str, Tuple[str, object]]:
    """A difference of two rates, in percentage points, with its interval."""
    return {"difference": (NUMBER, d.value * 100), "low": (NUMBER, d.low * 100), "high": (NUMBER, d.high * 100)}


def send_time_table(f: Figures) -> FigureTable:
    """Per office: the hour whose sends were most often answered within 2 h,
    next to the hour it sent most at and the hour it sends at now."""
    rows = tuple(Row(o.office_id, (o.send_at, o.sends, *_advice_values(o.advice)), label=o.office_id)
                 for o in f.send_time_advice)
    columns = (Column("send_at", TEXT), Column("sends", COUNT),
               Column("best_hour", TEXT), Column("best_share", PERCENT),
               Column("best_interval", INTERVAL),
               Column("most_used_hour", TEXT), Column("most_used_share", PERCENT),
               Column("most_used_interval", INTERVAL),
               Column("gain", PERCENT), Column("gain_interval", INTERVAL))
    min_sent = f.send_time_advice[0].min_sent if f.send_time_advice else None
    notes = [Note("figures_note_timezone", {"zone": (TEXT, f.period.timezone)})]
    if min_sent is not None:
        notes.append(Note("figures_note_send_time_min", {"count": (COUNT, min_sent)}))
    notes.append(Note("figures_note_send_at"))
    return FigureTable("send-time", "figures_rowhead_office", columns, rows, chart="bar",
                       plotted=("best_share", "most_used_share"), notes=tuple(notes))


def _advice_values(a: Optional[SendHourAdvice]) -> Tuple:
    if a is None:
        return (None,) * 8
    gain = (a.gain.value, Interval(a.gain.low, a.gain.high)) if a.gain else (None, None)
    return (f"{a.best_hour:02d}:00", *_estimate(a.best), f"{a.most_used_hour:02d}:00", *_estimate(a.most_used),
            *gain)
