"""The figures page's table of the waiting list: what the offer round did
with the period's freed slots (the figures' `waiting_list`,
bot/reports/figure_types.py), made as the other tables are
(figure_table_types.py): pure and language-free."""
from __future__ import annotations

from typing import List

from bot.console.figure_table_types import COUNT, NUMBER, PERCENT, TEXT, WORD, Column, FigureTable, Note, Row
from bot.reports.figure_types import Figures, FreedSlotFigures
from bot.reports.freed_slot_figures import NOT_OFFERED_REASONS

COLUMNS = (Column("freed", COUNT), Column("offerable", COUNT), Column("offered", COUNT),
           Column("offers_sent", COUNT), Column("rebooked", COUNT), Column("rebooked_of_offered", PERCENT),
           Column("reused", PERCENT), Column("median_minutes_to_rebook", NUMBER), Column("not_offered", COUNT))


def _values(w: FreedSlotFigures) -> tuple:
    return (w.freed, w.offerable, w.offered, w.offers_sent, w.rebooked, w.rebooked_of_offered.value,
            w.reused.value, w.median_minutes_to_rebook, w.freed - w.offered)


def waiting_list_table(f: Figures) -> FigureTable:
    """One row per office with freed slots, and every office's as totals
    when there are several (or none); the notes say why the slots not
    offered were not."""
    offices = f.waiting_list.by_office
    rows: List[Row] = [Row(office, _values(w), label=office) for office, w in offices.items()]
    if len(offices) != 1:
        rows.append(Row("all", _values(f.waiting_list.overall), "figures_row_all", total=True))
    notes = [Note("figures_note_not_offered", {
        # A reason the page has no words for is shown as its code.
        "reason": (WORD if reason in NOT_OFFERED_REASONS else TEXT, reason), "count": (COUNT, count)})
        for reason, count in f.waiting_list.overall.not_offered_reasons.items()]
    notes.append(Note("figures_note_reused"))
    return FigureTable("waiting-list", "figures_rowhead_office", COLUMNS, tuple(rows), chart="bar",
                       plotted=("freed", "offered", "rebooked"), notes=tuple(notes))
