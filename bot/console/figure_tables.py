"""The service figures (bot.reports.figure_types) as the console's figures page
shows them: one table per chart, each row the numbers behind one bar or
slice, with the reference deployment's figure (REFERENCE) where
docs/architecture.md gives one, and the headline figures above them.

Pure and language-free: rows and columns carry stable keys (also the CSV's
codes) and the text keys the page translates; numbers stay numbers until
the page formats them for the reader (figure_table_types.py says how a
table is made). The tables of touches, wording experiments and send-time
advice are in touch_figure_tables.py, the waiting list's in
waiting_list_figure_table.py.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence, Tuple

from bot.console.figure_table_types import (
    COUNT,
    EUR,
    NUMBER,
    PERCENT,
    REFERENCE,
    TEXT,
    Column,
    FigureTable,
    Headline,
    Note,
    Reference,
    Row,
)
from bot.console.touch_figure_tables import experiments_table, send_time_table, touches_table
from bot.console.waiting_list_figure_table import waiting_list_table
from bot.reminders.provider_status import reason_label
from bot.reports.figure_types import OUTCOMES, Figures, Share, share

# --- the tables, in the order of the page ------------------------------------------
_COUNT, _OUT_OF, _SHARE = Column("count", COUNT), Column("out_of", COUNT), Column("share", PERCENT)
_REFERENCE = Column("reference", REFERENCE)
_SHARE_COLUMNS = (_COUNT, _OUT_OF, _SHARE, _REFERENCE)


def _share_values(s: Share, reference: Optional[Reference] = None) -> Tuple:
    # "1 out of 0" says nothing: a share of nothing shows no base either.
    return s.part, s.whole or None, s.value, reference


def answer_rate_table(f: Figures) -> FigureTable:
    """Answered / sent, then how the answered answered and the sent who did
    not: the slices add up to the reminders sent."""
    answered = f.answers.answer_rate
    reference = Reference(f.reference["answer_rate_low"], f.reference["answer_rate_high"])
    rows = [Row("answered", _share_values(answered, reference), "figures_row_answered", total=True)]
    rows += [Row(channel, _share_values(s), f"figures_channel_{channel}", label=channel)
             for channel, s in f.answers.by_channel.items()]
    rows.append(Row("not_answered", _share_values(share(answered.whole - answered.part, answered.whole)),
                    "figures_row_not_answered"))
    return FigureTable("answer-rate", "figures_rowhead_answer", _SHARE_COLUMNS, tuple(rows),
                       chart="doughnut", plotted=("count",))


def cancellations_table(f: Figures) -> FigureTable:
    """The period's appointments: cancelled or confirmed through Recorda, or
    neither (no answer, no reminder, or handled by phone)."""
    answers, appointments = f.answers, f.volume.appointments
    cancelled, confirmed = answers.cancelled_share_of_appointments, answers.confirmed_share_of_appointments
    rows = [Row("cancelled", _share_values(cancelled, Reference(f.reference["cancelled_share_of_appointments"])),
                "figures_row_cancelled"),
            Row("confirmed", _share_values(confirmed), "figures_row_confirmed")]
    if appointments:
        # A reminder whose appointment the booking system no longer lists has no share here.
        other = max(0, appointments - cancelled.part - confirmed.part)
        rows.append(Row("other", _share_values(share(other, appointments)), "figures_row_other"))
    rows.append(Row("appointments", (appointments or None, None, None, None), "figures_row_appointments",
                    total=True))
    notes = [Note("figures_note_freed_slots", {"count": (COUNT, f.freed_slots.cancelled_through_recorda)})]
    if f.freed_slots.median_notice_hours is not None:
        notes.append(Note("figures_note_notice", {"hours": (NUMBER, f.freed_slots.median_notice_hours)}))
    return FigureTable("cancellations", "figures_rowhead_appointments", _SHARE_COLUMNS, tuple(rows),
                       chart="doughnut", plotted=("count",), notes=tuple(notes), needs_booking=True)


def failures_table(f: Figures) -> FigureTable:
    """Failed reminders by reason, of those attempted; the reference's
    reasons stay for comparison even when none failed that way here."""
    references: Dict[str, float] = f.reference["failure_share_by_reason"]
    attempted = f.volume.reminders_attempted
    failures = dict(f.delivery.failures_by_reason)
    for reason in references:
        failures.setdefault(reason, share(0, attempted))
    rows = [Row(reason, _share_values(s, Reference(references[reason]) if reason in references else None),
                f"reason_{reason}", label=reason_label(reason))
            for reason, s in failures.items()]
    rows.append(Row("failed", _share_values(f.delivery.failure_rate), "figures_row_failed", total=True))
    return FigureTable("failures", "figures_rowhead_reason", _SHARE_COLUMNS, tuple(rows),
                       chart="horizontal-bar", plotted=("share", "reference"))


def answer_time_table(f: Figures) -> FigureTable:
    """Answered reminders by the time from sending to the first answer."""
    times = f.answer_times
    rows = tuple(Row(bucket, _share_values(share(count, times.answers_timed))[:3], label=bucket)
                 for bucket, count in times.histogram.items())
    notes = [Note("figures_note_within_2h", {
        "share": (PERCENT, times.within_2h.value),
        "reference": (REFERENCE, Reference(f.reference["answered_within_2h_share"]))})]
    if times.median_minutes is not None:
        notes.append(Note("figures_note_median", {"minutes": (NUMBER, times.median_minutes)}))
    return FigureTable("answer-time", "figures_rowhead_time", (_COUNT, _OUT_OF, _SHARE), rows,
                       chart="bar", plotted=("count",), notes=tuple(notes))


def send_hour_table(f: Figures) -> FigureTable:
    """Sent and answered by the local hour of sending, the hours with sends."""
    rows = tuple(Row(str(h.hour), (h.sent, h.answered, h.answer_rate), label=f"{h.hour:02d}:00")
                 for h in f.by_send_hour if h.sent)
    columns = (Column("sent", COUNT), Column("answered", COUNT), Column("answer_rate", PERCENT))
    notes = (Note("figures_note_timezone", {"zone": (TEXT, f.period.timezone)}),)
    return FigureTable("send-hour", "figures_rowhead_hour", columns, rows,
                       chart="bar", plotted=("sent", "answered"), notes=notes)


def no_shows_table(f: Figures) -> FigureTable:
    """No-show rate of the appointments with attendance recorded, by how
    their reminder ended."""
    def values(group, reference=None):
        return group.recorded, group.no_shows, group.rate, reference

    rows = [Row(outcome, values(f.no_shows.by_outcome[outcome]), f"figures_outcome_{outcome}")
            for outcome in OUTCOMES]
    rows.append(Row("all", values(f.no_shows.overall, Reference(f.reference["no_show_rate_after"])),
                    "figures_row_all", total=True))
    columns = (Column("recorded", COUNT), Column("no_shows", COUNT), Column("no_show_rate", PERCENT),
               _REFERENCE)
    notes = (Note("figures_note_no_show_reference", {
        "before": (REFERENCE, Reference(f.reference["no_show_rate_before"])),
        "after": (REFERENCE, Reference(f.reference["no_show_rate_after"]))}),)
    return FigureTable("no-shows", "figures_rowhead_outcome", columns, tuple(rows),
                       chart="bar", plotted=("no_show_rate",), notes=notes, needs_booking=True)


def cost_table(f: Figures) -> FigureTable:
    """Conversations (delivered reminders) and their cost by month of sending;
    the notes say how they were priced: per conversation, and per billable
    message of each category the provider named."""
    c = f.conversations
    rows = [Row(m.month, (m.conversations, m.billable, m.cost_eur), label=m.month) for m in c.by_month]
    rows.append(Row("total", (c.total_conversations, sum(m.billable for m in c.by_month), c.total_cost_eur),
                    "figures_row_total", total=True))
    columns = (Column("conversations", COUNT), Column("billable", COUNT), Column("cost", EUR))
    notes = []
    # The price per conversation, unless the provider priced every message itself.
    if not c.by_category or c.total_conversations > sum(k.messages for k in c.by_category):
        notes.append(Note("figures_note_price", {"price": (EUR, c.price_per_conversation),
                                                 "free": (COUNT, c.free_per_month)}))
    notes += [Note("figures_note_category_price", {
        "category": (TEXT, k.category), "billable": (COUNT, k.billable), "messages": (COUNT, k.messages),
        "cost": (EUR, k.cost_eur)}) for k in c.by_category]
    return FigureTable("cost", "figures_rowhead_month", columns, tuple(rows),
                       chart="bar", plotted=("cost",), notes=tuple(notes))


TABLES = {
    "answer-rate": answer_rate_table,
    "cancellations": cancellations_table,
    "failures": failures_table,
    "answer-time": answer_time_table,
    "send-hour": send_hour_table,
    "no-shows": no_shows_table,
    "cost": cost_table,
    "touches": touches_table,
    "experiments": experiments_table,
    "send-time": send_time_table,
    "waiting-list": waiting_list_table,
}


def figure_tables(f: Figures) -> Sequence[FigureTable]:
    return [build(f) for build in TABLES.values()]


def headlines(f: Figures) -> Sequence[Headline]:
    answered, cancelled = f.answers.answer_rate, f.answers.cancelled_share_of_appointments
    within, no_shows = f.answer_times.within_2h, f.no_shows.overall
    reference = f.reference
    return [
        Headline("sent", COUNT, f.volume.reminders_sent, whole=f.volume.reminders_attempted),
        Headline("answer_rate", PERCENT, answered.value, answered.part, answered.whole,
                 Reference(reference["answer_rate_low"], reference["answer_rate_high"])),
        Headline("cancelled", PERCENT, cancelled.value, cancelled.part, cancelled.whole,
                 Reference(reference["cancelled_share_of_appointments"])),
        Headline("within_2h", PERCENT, within.value, within.part, within.whole,
                 Reference(reference["answered_within_2h_share"])),
        Headline("no_show_rate", PERCENT, no_shows.rate, no_shows.no_shows, no_shows.recorded,
                 Reference(reference["no_show_rate_after"])),
    ]
