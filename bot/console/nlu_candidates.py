"""The NLU review's candidates: typed messages (not button taps) from Rasa's
tracker store whose intent confidence is below a threshold or that hit
nlu_fallback, grouped by their normalised text, and the page's filter on
them. Never the sender."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Dict, Iterable, List, Optional

from bot.console.nlu_review_table import Review
from bot.console.nlu_review_texts import text_key, tidy
from bot.console.tracker import FALLBACK_INTENT, TrackerEvent

LANGUAGE_ENTITY = "language"      # set by components.language_detector


@dataclass(frozen=True)
class Candidate:
    """One text as citizens typed it (maybe several times), with what the
    assistant made of it the last time."""
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
