"""The reports command's table of the waiting list: what the offer round
did with the period's freed slots (the figures' `waiting_list`, defined in
bot/reports/figure_types.py)."""
from __future__ import annotations

from typing import Dict, Optional

from rich.table import Table

from bot.reports.figure_types import Figures, FreedSlotFigures, Share
from bot.reports.freed_slot_figures import NO_WAITING_LIST, NOBODY_LEFT, OTHER, STILL_OPEN, TOO_LATE

REASON_TEXTS = {
    NO_WAITING_LIST: "office without waiting list",
    TOO_LATE: "too late",
    NOBODY_LEFT: "nobody left on the list",
    STILL_OPEN: "not offered yet",
    OTHER: "other",
}


def _share(s: Share) -> str:
    return "–" if s.value is None else f"{s.value * 100:.1f} % ({s.part}/{s.whole})"


def _minutes(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.1f} min"


def _reasons(reasons: Dict[str, int]) -> str:
    return ", ".join(f"{REASON_TEXTS.get(reason, reason)} {count}" for reason, count in reasons.items()) or "–"


def waiting_list_table(f: Figures) -> Table:
    table = Table(title="Freed slots offered to the waiting list (slots of the period's appointments)",
                  title_justify="left")
    table.add_column("office")
    for column in ("freed", "offerable", "offered", "offers sent", "re-booked (of offered)",
                   "re-used (of freed)", "median time to re-book"):
        table.add_column(column, justify="right")
    table.add_column("not offered, why")

    def add(office: str, w: FreedSlotFigures, style: Optional[str] = None) -> None:
        table.add_row(office, str(w.freed), str(w.offerable), str(w.offered), str(w.offers_sent),
                      _share(w.rebooked_of_offered), _share(w.reused), _minutes(w.median_minutes_to_rebook),
                      _reasons(w.not_offered_reasons), style=style)
    for office, figures in f.waiting_list.by_office.items():
        add(office, figures)
    if len(f.waiting_list.by_office) != 1:
        add("all", f.waiting_list.overall, style="bold")
    table.caption = "Re-used: freed slots someone on the list booked again; the time runs from the freeing."
    return table
