"""The reports command's tables of touches, wording experiments and
send-time advice (the figures' `touches`, `experiments` and
`send_time_advice`, defined in bot/reports/figure_types.py)."""
from __future__ import annotations

from typing import List, Optional

from rich.table import Table

from bot.reports.experiments import (
    VERDICT_LEADER_ANSWERS_MORE,
    VERDICT_NO_DIFFERENCE_OF_THAT_SIZE,
    VERDICT_NO_DIFFERENCE_YET,
    VERDICT_ONE_VARIANT,
    Difference,
    EstimatedShare,
)
from bot.reports.figure_types import Figures, Share, TouchFigures

VERDICT_TEXTS = {
    VERDICT_LEADER_ANSWERS_MORE: "the leader is answered more",
    VERDICT_NO_DIFFERENCE_OF_THAT_SIZE: "no difference of that size",
    VERDICT_NO_DIFFERENCE_YET: "no difference seen yet: more appointments needed",
    VERDICT_ONE_VARIANT: "only one variant was sent",
}


def _percent(value: Optional[float]) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def _share(s: Share) -> str:
    return f"{_percent(s.value)} ({s.part}/{s.whole})"


def _estimate(s: EstimatedShare) -> str:
    if s.value is None:
        return "–"
    return f"{_percent(s.value)} [{_percent(s.low)} – {_percent(s.high)}] ({s.part}/{s.whole})"


def _points(d: Difference) -> str:
    return f"{d.value * 100:+.1f} points [{d.low * 100:+.1f} – {d.high * 100:+.1f}]"


def _table(title: str, *columns: str, text_columns: int = 1) -> Table:
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i < text_columns else "right")
    return table


def touches_table(f: Figures) -> Table:
    table = _table("Sends by touch", "office", "touch", "sent", "answered (of sent)", "cancelled (of sent)",
                   text_columns=2)

    def add(office: str, touches: List[TouchFigures], style: Optional[str] = None) -> None:
        for t in touches:
            table.add_row(office, t.touch, str(t.sent), _share(t.answered), _share(t.cancelled), style=style)
    for office, touches in f.touches.by_office.items():
        add(office, touches)
    if len(f.touches.by_office) != 1:
        add("all", f.touches.overall, style="bold")
    table.caption = "An answer counts for the touch sent last before it."
    return table


def experiments_table(f: Figures) -> Table:
    table = _table("Wording experiments (95 % intervals)", "office · experiment", "variant", "given",
                   "appointments", "answered", "cancelled", "no-shows (of attendance known)", text_columns=3)
    captions = []
    for e in f.experiments:
        for v in e.variants:
            given = "retired" if e.retired.get(v.variant) else "yes"
            table.add_row(f"{e.office_id} · {e.experiment}", v.variant, given, str(v.appointments),
                          _estimate(v.answer_rate), _estimate(v.cancellation_rate), _estimate(v.no_show_rate))
        difference = (f"{e.leader} vs {e.runner_up}: {_points(e.answer_rate_difference)}; "
                      if e.answer_rate_difference else "")
        captions.append(f"{e.office_id} · {e.experiment}: {difference}{VERDICT_TEXTS.get(e.verdict, e.verdict)}; "
                        f"{e.appointments_needed} appointments per variant to see {e.minimum_effect * 100:g} points, "
                        f"{e.still_needed} more needed.")
    table.caption = "\n".join(captions)
    return table


def send_time_table(f: Figures) -> Table:
    table = _table(f"Send-time advice: answered within 2 h, by local hour of sending ({f.period.timezone})",
                   "office", "sends from (send_at)", "sends", "best hour", "most used hour", "best - most used")
    for o in f.send_time_advice:
        a = o.advice
        if a is None:
            table.add_row(o.office_id, o.send_at, str(o.sends), f"too few sends (under {o.min_sent} an hour)", "", "")
            continue
        table.add_row(o.office_id, o.send_at, str(o.sends), f"{a.best_hour:02d}:00 {_estimate(a.best)}",
                      f"{a.most_used_hour:02d}:00 {_estimate(a.most_used)}", _points(a.gain) if a.gain else "same hour")
    minimum = f"at least {f.send_time_advice[0].min_sent} sends" if f.send_time_advice else "enough sends"
    table.caption = f"Hours with {minimum} compete. To change an office's hour, set send_at in offices.yml."
    return table
