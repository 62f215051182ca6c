"""NLU review: what citizens typed that the assistant was unsure about, the
intent a content editor says it should have had, and those reviews exported
as Rasa NLU training data that can be merged into data/.

    candidates   typed messages (not button taps) from Rasa's tracker store
                 whose intent confidence is below a threshold or that hit
                 nlu_fallback, grouped by their normalised text
    reviews      the console_nlu_reviews table in Recorda's own database:
                 one row per normalised text, no phone number, relabelling
                 overwrites
    export       the reviewed messages (not the ignored ones) as NLU YAML,
                 minus what data/ or the held-out set already has

Nothing here knows about HTTP; bot.apps.web.console.nlu_review_pages is the page.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Callable, Dict, FrozenSet, Iterable, List, Optional, Set, Tuple

import yaml
from sqlalchemy import (MetaData, Boolean, Column, DateTime, Float, Integer, String, Table, Text, not_, or_, select,
                        update)
from sqlalchemy.exc import IntegrityError

from bot.foundation.settings import PROJECT_ROOT
from bot.console.domain import DOMAIN_PATH, typed_intents
from bot.console.tracker import FALLBACK_INTENT, TrackerEvent, TrackerEvents, events_table
from bot.foundation.clock import stored_utc as _aware, utc_now as _now
from bot.foundation.db import engine_with_tables
from bot.dev.nlu_eval import HOLDOUT_DIR

IGNORE = "ignore"                 # the editor's choice for "not training data"
OUT_OF_SCOPE = "out_of_scope"     # the domain's intent for "not something we handle"
LANGUAGE_ENTITY = "language"      # set by components.language_detector

# This store's tables, created by the store itself (bot/foundation/db.py knows none).
SCHEMA = MetaData()

reviews_table = Table(
    "console_nlu_reviews", SCHEMA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # SHA-256 of the normalised text: unique, and short enough to index
    # whatever the length of the message.
    Column("text_key", String(64), nullable=False, unique=True),
    Column("text", Text, nullable=False),                # as written (spaces tidied); "" if ignored
    Column("intent", String(128), nullable=True),        # None when ignored
    Column("ignored", Boolean, nullable=False, default=False),
    Column("reviewer", String(64), nullable=False),
    Column("reviewed_at", DateTime(timezone=True), nullable=False),
    Column("predicted_intent", String(128), nullable=True),
    Column("confidence", Float, nullable=True),
    Column("language", String(8), nullable=True),
    Column("exported_at", DateTime(timezone=True), nullable=True),
)


class ReviewError(ValueError):
    """A review cannot be saved; `code` names why (for the console's texts)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------- texts

def tidy(text: str) -> str:
    """The message on one line: surrounding spaces gone, runs of spaces,
    tabs and line breaks made one space."""
    return " ".join((text or "").split())


def normalise(text: str) -> str:
    """What makes two messages "the same text" on the review page."""
    return tidy(text).casefold()


def text_key(text: str) -> str:
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


def loose_key(text: str) -> str:
    """Lower case, no accents, punctuation and emoji as spaces: the way
    tests/test_nlu_eval.py compares the held-out set with the training data
    (data/nlu/*.yml says: no copies that differ only by case or punctuation).
    A message of emoji only keeps its own characters, so 👍 is not 👌."""
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", " ", folded).strip() or normalise(text)


def training_example(text: str) -> str:
    """The message as a line of a Rasa `examples: |` block.

    Rasa reads [words](entity), [words]{"entity": ...} and [words][...] in an
    example as entity annotations; every one of them starts with "[", so
    square brackets become round ones and nothing is read as an entity
    (round brackets and braces alone mean nothing to Rasa). Characters YAML
    does not allow in a file (control characters, a byte-order mark, lone
    surrogates) are dropped, and line breaks were already made spaces."""
    line = tidy(text).replace("[", "(").replace("]", ")")
    return "".join(c for c in line if _yaml_printable(c)).strip()


def _yaml_printable(char: str) -> bool:
    code = ord(char)
    if char == "\ufeff" or unicodedata.category(char) in ("Cc", "Cs"):
        return False
    return code not in (0xFFFE, 0xFFFF)


# ---------------------------------------------------------------- the project's NLU files

# libyaml when the system has it: data/ is read on every page view.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ENTITY_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\}|\[[^\]]*\])")


@dataclass(frozen=True)
class ProjectNlu:
    """The intents an editor may choose (domain.yml) and the messages the
    project already has as training data (data/) or keeps unseen for
    evaluation (tests/nlu/holdout_*.yml). Read on every use: they are small
    and an editor may have just merged an export."""
    domain_path: Path = DOMAIN_PATH
    data_dir: Path = PROJECT_ROOT / "data"
    holdout_dir: Path = HOLDOUT_DIR

    def intents(self) -> List[str]:
        return typed_intents(self.domain_path)

    def choices(self) -> List[str]:
        """What the editor may pick for a message: an intent, or IGNORE."""
        return self.intents() + [IGNORE]

    def training_keys(self) -> Set[str]:
        return {loose_key(text) for text in _examples_under(self.data_dir, "**/*.yml")}

    def holdout_keys(self) -> Set[str]:
        return {loose_key(text) for text in _examples_under(self.holdout_dir, "holdout_*.yml")}

    def known(self) -> "KnownTexts":
        return KnownTexts(frozenset(self.intents()), frozenset(self.training_keys()),
                          frozenset(self.holdout_keys()))


@dataclass(frozen=True)
class KnownTexts:
    """What an export is checked against, read once for both export scopes."""
    intents: FrozenSet[str]
    training: FrozenSet[str]     # loose keys of data/ examples
    holdout: FrozenSet[str]      # loose keys of the held-out evaluation set


def _examples_under(directory: Path, pattern: str) -> Iterable[str]:
    for path in sorted(directory.glob(pattern)):
        try:
            content = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER) or {}
        except (OSError, yaml.YAMLError):
            continue  # `rasa data validate` reports a broken file; here it just adds nothing
        for item in (content.get("nlu") or []) if isinstance(content, dict) else []:
            if isinstance(item, dict) and "intent" in item:
                yield from _item_examples(item.get("examples"))


def _item_examples(examples) -> Iterable[str]:
    if isinstance(examples, str):
        lines = [line.strip() for line in examples.splitlines()]
        texts = [line[1:] for line in lines if line.startswith("-")]
    elif isinstance(examples, list):  # the long form: - text: ...
        texts = [str(e.get("text", "")) if isinstance(e, dict) else str(e) for e in examples]
    else:
        texts = []
    for text in texts:
        plain = _ENTITY_ANNOTATION.sub(r"\1", text).strip()
        if plain:
            yield plain


# ---------------------------------------------------------------- reviews

@dataclass(frozen=True)
class Review:
    key: str
    text: str
    intent: Optional[str]
    ignored: bool
    reviewer: str
    reviewed_at: datetime
    predicted_intent: Optional[str]
    confidence: Optional[float]
    language: Optional[str]
    exported_at: Optional[datetime]

    @property
    def label(self) -> str:
        """What the editor chose, as the page's select knows it."""
        return IGNORE if self.ignored else (self.intent or "")

    @classmethod
    def from_row(cls, row) -> "Review":
        return cls(row.text_key, row.text, row.intent, bool(row.ignored), row.reviewer,
                   _aware(row.reviewed_at), row.predicted_intent, row.confidence, row.language,
                   _aware(row.exported_at))


# ---------------------------------------------------------------- candidates

@dataclass(frozen=True)
class Candidate:
    """One text as citizens typed it (maybe several times), with what the
    assistant made of it the last time. Never the sender."""
    event_id: int             # the latest message of the group: names it in forms
    key: str
    text: str
    count: int
    intent: Optional[str]
    confidence: Optional[float]
    guess: Optional[str]      # after nlu_fallback: the classifier's best real intent
    language: Optional[str]
    last_at: datetime
    review: Optional[Review] = None

    @property
    def is_fallback(self) -> bool:
        return self.intent == FALLBACK_INTENT


def is_candidate(event: TrackerEvent, threshold: float) -> bool:
    if not event.is_typed_message:
        return False
    if event.intent == FALLBACK_INTENT:
        return True
    return event.confidence is not None and event.confidence < threshold


def message_language(event: TrackerEvent) -> Optional[str]:
    for entity in event.entities:
        if entity.get("entity") == LANGUAGE_ENTITY and entity.get("value"):
            return str(entity["value"])
    return None


def _best_guess(event: TrackerEvent) -> Optional[str]:
    ranking = (event.data.get("parse_data") or {}).get("intent_ranking") or []
    for entry in ranking:
        name = (entry or {}).get("name")
        if name and name != FALLBACK_INTENT:
            return name
    return None


def group_candidates(events: Iterable[TrackerEvent], threshold: float) -> List[Candidate]:
    """Groups the candidate messages by normalised text, most seen first."""
    groups: Dict[str, List[TrackerEvent]] = {}
    for event in events:
        if is_candidate(event, threshold) and tidy(event.text):
            groups.setdefault(text_key(event.text), []).append(event)
    candidates = []
    for key, group in groups.items():
        latest = max(group, key=lambda e: (e.at, e.id))
        language = next((lang for lang in (message_language(e) for e in
                                           sorted(group, key=lambda e: (e.at, e.id), reverse=True)) if lang),
                        None)
        candidates.append(Candidate(
            event_id=latest.id, key=key, text=tidy(latest.text), count=len(group),
            intent=latest.intent, confidence=latest.confidence,
            guess=_best_guess(latest) if latest.intent == FALLBACK_INTENT else None,
            language=language, last_at=latest.at))
    candidates.sort(key=lambda c: (-c.count, -c.last_at.timestamp(), c.text))
    return candidates


TO_REVIEW, REVIEWED, ALL = "todo", "reviewed", "all"
STATUSES = (TO_REVIEW, REVIEWED, ALL)


@dataclass(frozen=True)
class CandidateFilter:
    status: str = TO_REVIEW
    language: str = ""        # "" any
    intent: str = ""          # "" any predicted intent

    def keeps(self, candidate: Candidate) -> bool:
        if self.status == TO_REVIEW and candidate.review is not None:
            return False
        if self.status == REVIEWED and candidate.review is None:
            return False
        if self.language and candidate.language != self.language:
            return False
        return not self.intent or candidate.intent == self.intent


# ---------------------------------------------------------------- export

# Why a reviewed message is not in an export, in the order the page lists them.
SKIP_IGNORED = "ignored"
SKIP_IN_TRAINING = "in_training_data"
SKIP_IN_HOLDOUT = "in_holdout"
SKIP_DUPLICATE = "duplicate"
SKIP_UNKNOWN_INTENT = "unknown_intent"
SKIP_EMPTY = "empty"
SKIP_REASONS = (SKIP_IN_TRAINING, SKIP_IN_HOLDOUT, SKIP_DUPLICATE, SKIP_UNKNOWN_INTENT, SKIP_EMPTY,
                SKIP_IGNORED)

SKIP_EXPLANATIONS = {
    SKIP_IGNORED: "marked as not training data",
    SKIP_IN_TRAINING: "already in data/ (the same words apart from case or punctuation)",
    SKIP_IN_HOLDOUT: "in the held-out evaluation set tests/nlu/holdout_*.yml, which must stay unseen",
    SKIP_DUPLICATE: "the same words as another exported message apart from case or punctuation",
    SKIP_UNKNOWN_INTENT: "labelled with an intent that domain.yml no longer has",
    SKIP_EMPTY: "nothing left once made safe for Rasa",
}


@dataclass(frozen=True)
class ExportEntry:
    intent: str
    text: str          # as it goes into the file
    key: str           # the review's text_key


@dataclass
class ExportPlan:
    only_new: bool
    entries: List[ExportEntry] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    skipped_texts: List[Tuple[str, str]] = field(default_factory=list)   # (reason, text)

    @property
    def intents(self) -> List[str]:
        return sorted({entry.intent for entry in self.entries})


def plan_export(reviews: Iterable[Review], known: KnownTexts, only_new: bool) -> ExportPlan:
    """Which reviewed messages go into the file under which intent, and why
    the others do not. The file must pass `rasa data validate` merged into
    data/: no example twice, no intent the domain lacks, no held-out text."""
    plan = ExportPlan(only_new=only_new)
    chosen: Set[str] = set()
    for review in sorted(reviews, key=lambda r: (r.intent or "", normalise(r.text))):
        if only_new and review.exported_at is not None:
            continue
        text = training_example(review.text)
        loose = loose_key(text) if text else ""
        reason = (SKIP_IGNORED if review.ignored
                  else SKIP_UNKNOWN_INTENT if review.intent not in known.intents
                  else SKIP_EMPTY if not text
                  else SKIP_IN_HOLDOUT if loose in known.holdout
                  else SKIP_IN_TRAINING if loose in known.training
                  else SKIP_DUPLICATE if loose in chosen
                  else None)
        if reason:
            plan.skipped[reason] += 1
            plan.skipped_texts.append((reason, review.text))
            continue
        chosen.add(loose)
        plan.entries.append(ExportEntry(review.intent, text, review.key))
    plan.entries.sort(key=lambda e: (e.intent, normalise(e.text)))
    return plan


def training_yaml(plan: ExportPlan, exported_at: datetime, exported_by: str, filename: str) -> str:
    """The plan as a Rasa 3 NLU training data file, with a header saying
    where it came from and how to merge it."""
    scope = "messages not exported before" if plan.only_new else "every reviewed message"
    lines = [
        "# Recorda: NLU examples that content editors reviewed in the staff console",
        "# (NLU review page): messages citizens typed that the assistant was unsure",
        "# about, each under the intent the editor chose.",
        f"# Exported {exported_at.strftime('%Y-%m-%d %H:%M')} UTC by {exported_by} ({scope}):",
        f"# Examples: {len(plan.entries)}, under {len(plan.intents)} intent(s).",
    ]
    for reason in SKIP_REASONS:
        if plan.skipped[reason]:
            lines.append(f"# Left out: {plan.skipped[reason]} {SKIP_EXPLANATIONS[reason]}.")
    lines += [
        "#",
        "# How to merge it:",
        f"#   1. Copy this file into data/nlu/ as it is (data/nlu/{filename}).",
        "#   2. Run `make nlu-check`: it validates the data, trains, runs the",
        "#      conversation tests and scores the model on the held-out messages.",
        "#   3. Keep the file if the scores hold up, then deploy the new model.",
        "# Do not merge two exports of \"every reviewed message\": their examples",
        "# overlap and `rasa data validate` refuses an example given twice.",
        "",
        'version: "3.1"',
        "",
    ]
    if not plan.entries:
        lines.append("nlu: []")
        return "\n".join(lines) + "\n"
    lines.append("nlu:")
    for intent in plan.intents:
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {entry.text}" for entry in plan.entries if entry.intent == intent]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the store

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
        if not self.tracker.available():
            return []
        c = events_table.c
        query = (select(events_table).where(c.type_name == "user")
                 .where(c.timestamp >= start.timestamp())
                 .where(c.timestamp < end.timestamp())
                 .where(or_(c.intent_name.is_(None), not_(c.intent_name.startswith("EXTERNAL_", autoescape=True))))
                 .order_by(c.timestamp, c.id))
        with self.tracker.engine.connect() as conn:
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
