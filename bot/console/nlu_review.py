"""NLU review: what citizens typed that the assistant was unsure about, the
intent a content editor says it should have had, and those reviews exported
as Rasa NLU training data that can be merged into data/.

    NluReviews   the store: candidates with their reviews, saving a review,
                 the export (marks what it exported)

The parts: bot.console.nlu_candidates (what is to review),
bot.console.nlu_review_table (the reviews), bot.console.nlu_export (the
file), bot.console.nlu_project (what the project already has). Nothing
here knows about HTTP; bot.apps.web.console.nlu_review_pages is the page.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from sqlalchemy import not_, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.console.nlu_candidates import Candidate, group_candidates, message_language
from bot.console.nlu_export import ExportPlan, plan_export, training_yaml
from bot.console.nlu_project import IGNORE, ProjectNlu
from bot.console.nlu_review_table import SCHEMA, Review, reviews_table
from bot.console.nlu_review_texts import text_key, tidy
from bot.console.tracker import TrackerEvent, TrackerEvents, events_table
from bot.foundation.clock import utc_now as _now
from bot.foundation.db import engine_with_tables
from bot.foundation.errors import CodedError


class ReviewError(CodedError):
    """A review cannot be saved; `code` names why (for the console's texts)."""


class NluReviews:
    def __init__(self, db_url: str, tracker: TrackerEvents, project: Optional[ProjectNlu] = None,
                 clock: Callable[[], datetime] = _now):
        self.engine = engine_with_tables(db_url, SCHEMA)
        self.tracker = tracker
        self.project = project or ProjectNlu()
        self.clock = clock

    # ---- reading
    def candidates(self, start: datetime, end: datetime, threshold: float) -> List[Candidate]:
        """Every candidate text typed in [start, end), with its review if any."""
        grouped = group_candidates(self.messages_between(start, end), threshold)
        reviews = self.reviews_by_key([c.key for c in grouped])
        return [replace(c, review=reviews.get(c.key)) for c in grouped]

    def messages_between(self, start: datetime, end: datetime) -> List[TrackerEvent]:
        """The "user" events of [start, end) that may be candidates: not the
        reminders and booking updates Recorda triggers through Rasa (intent
        EXTERNAL_*, never typed nor scored by the NLU; the photo payload is
        not typed either). They are half of a town's "user" events, and
        decoding their JSON was most of the page's time (bench/console_pages.py)."""
        engine = self.tracker.engine_if_available()
        if engine is None:
            return []
        c = events_table.c
        query = (select(events_table).where(c.type_name == "user")
                 .where(c.timestamp >= start.timestamp())
                 .where(c.timestamp < end.timestamp())
                 .where(or_(c.intent_name.is_(None), not_(c.intent_name.startswith("EXTERNAL_", autoescape=True))))
                 .order_by(c.timestamp, c.id))
        with engine.connect() as conn:
            return [TrackerEvent.from_row(row) for row in conn.execute(query)]

    def reviews_by_key(self, keys: Iterable[str]) -> Dict[str, Review]:
        keys = list(keys)
        found: Dict[str, Review] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(keys), 500):   # stay under SQL parameter limits
                query = select(reviews_table).where(reviews_table.c.text_key.in_(keys[start:start + 500]))
                found.update({row.text_key: Review.from_row(row) for row in conn.execute(query)})
        return found

    def all_reviews(self) -> List[Review]:
        with self.engine.connect() as conn:
            return [Review.from_row(row) for row in conn.execute(select(reviews_table))]

    # ---- reviewing
    def review(self, event_id: int, label: str, reviewer: str) -> bool:
        """Labels the text of tracker event `event_id` (and so every message
        with the same normalised text): an intent of the domain, or IGNORE.
        Returns whether anything changed; relabelling overwrites."""
        if label not in self.project.choices():
            raise ReviewError("unknown_label", f"{label!r} is not an intent of the domain")
        found = self.tracker.by_ids([event_id])
        if not found or not found[0].is_typed_message:
            raise ReviewError("not_a_message", f"event {event_id} is not a message a citizen typed")
        event = found[0]
        # An ignored message is often personal data: only its key is kept, so
        # that it does not come back to review; the tracker store has the text
        # until the retention purge.
        ignored = label == IGNORE
        values = dict(text="" if ignored else tidy(event.text), intent=None if ignored else label,
                      ignored=ignored, reviewer=reviewer, reviewed_at=self.clock(),
                      predicted_intent=event.intent, confidence=event.confidence,
                      language=message_language(event))
        key = text_key(event.text)
        for _attempt in range(2):   # another editor may insert the same text meanwhile
            try:
                with self.engine.begin() as conn:
                    row = conn.execute(select(reviews_table).where(reviews_table.c.text_key == key)).first()
                    if row is None:
                        conn.execute(reviews_table.insert().values(text_key=key, exported_at=None, **values))
                        return True
                    if Review.from_row(row).label == label:
                        return False
                    # A new label has not been exported yet.
                    conn.execute(update(reviews_table).where(reviews_table.c.text_key == key)
                                 .values(exported_at=None, **values))
                    return True
            except IntegrityError:
                continue
        raise ReviewError("conflict", "the review changed while saving; try again")

    # ---- exporting
    def plan(self, only_new: bool) -> ExportPlan:
        return plan_export(self.all_reviews(), self.project.known(), only_new)

    def plans(self) -> Tuple[ExportPlan, ExportPlan]:
        """What an export of the messages not exported before, and of every
        reviewed message, would hold: the page shows both."""
        reviews, known = self.all_reviews(), self.project.known()
        return plan_export(reviews, known, True), plan_export(reviews, known, False)

    def export(self, only_new: bool, exported_by: str, filename: str) -> Tuple[str, ExportPlan]:
        """The YAML file, and the exported reviews marked as exported."""
        now = self.clock()
        plan = self.plan(only_new)
        content = training_yaml(plan, now, exported_by, filename)
        keys = [entry.key for entry in plan.entries]
        with self.engine.begin() as conn:
            for start in range(0, len(keys), 500):
                conn.execute(update(reviews_table).where(reviews_table.c.text_key.in_(keys[start:start + 500]))
                             .values(exported_at=now))
        return content, plan
