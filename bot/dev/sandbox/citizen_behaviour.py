"""How simulated citizens treat a reminder: a behaviour profile.

`manual` (the default) leaves every number to whoever drives the phone page
or `/sim/reply`. `realistic` gives each number one behaviour, drawn
deterministically from the profile's seed and the number, with shares close
to the reference deployment (docs/architecture.md): about 6 % have no WhatsApp account,
6 % never get it (phone off, old app), 0.7 % numbers do not exist, about
62 % of those reached answer, 13 % cancel, half of the answers within 2 h.

The same profile drives two things:

* the live replay in the WhatsApp simulator (`CitizenReplay`): statuses,
  read receipts, button taps and typed answers, with the delays of a real
  day multiplied by `time_scale` (0.001 makes 2 h last 7.2 s); answers go
  through the simulator's own `/sim/reply` path, so the assistant really
  confirms or cancels in the booking sandbox;
* past service days (bot.dev.sandbox.past_reminders): the booking seed and the
  history filler tell the same story of each past reminder.

People on a waiting list who get the offer of a freed slot answer it as
bot.dev.sandbox.offer_answers says (most take it within minutes); whether
the offer reaches them and whether they show read receipts is their
number's behaviour, as for a reminder.

A profile is a name, a seed, a time scale, shares by behaviour and shares
by answer to an offer, e.g. as JSON or YAML: `{"profile": "realistic",
"seed": 7, "time_scale": 0.001, "shares": {"cancel_button": 0.10},
"offer_shares": {"take": 0.7}}` (shares given are merged into the
defaults, then all are scaled to add up to 1).
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import random
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import yaml

from bot.dev.sandbox.offer_answers import (
    DEFAULT_OFFER_SHARES,
    NO_ANSWER,
    OFFER_ANSWERS,
    OFFER_INTENTS,
    TEMPLATE_INDEX,
    is_offer,
    offer_answer_delay,
)

logger = logging.getLogger(__name__)

MANUAL = "manual"
REALISTIC = "realistic"
PROFILES = (MANUAL, REALISTIC)
CONFIRMED, CANCELLED = "confirmed", "cancelled"  # as bot.reminders.states
BUTTON, TEXT = "button", "text"

# How a citizen reads: soon after delivery / hours later / never / never tells (read receipts off).
PROMPT, LATE, NEVER, HIDDEN = "prompt", "late", "never", "hidden"

# Errors the provider reports (docs/architecture.md; bot.reminders.provider_status maps them).
NOT_ON_WHATSAPP = {"code": 302, "description": "contact is not registered on WhatsApp"}
NO_SUCH_NUMBER = {"code": 1002, "description": "the phone number does not exist"}
NOT_DELIVERED = {"code": 301, "description": "message failed to send: not delivered"}


@dataclass(frozen=True)
class Behaviour:
    name: str
    description: str
    failure: Optional[dict] = None   # the send fails at once with this error
    delivered: bool = True           # False: stays "sent" (phone off, old app)
    reads: str = PROMPT
    answer: Optional[str] = None     # CONFIRMED | CANCELLED
    channel: Optional[str] = None    # BUTTON | TEXT

    @property
    def answers(self) -> bool:
        return self.answer is not None


BEHAVIOURS: Dict[str, Behaviour] = {b.name: b for b in (
    Behaviour("no_whatsapp", "no WhatsApp account: the send fails (code 302)", failure=NOT_ON_WHATSAPP),
    Behaviour("no_such_number", "the number does not exist (code 1002)", failure=NO_SUCH_NUMBER),
    Behaviour("phone_off", "phone off or an old app: stays sent, never delivered", delivered=False),
    Behaviour("never_reads", "delivered, never read, never answered", reads=NEVER),
    Behaviour("reads_no_answer", "reads it, never answers"),
    Behaviour("hides_receipts", "read receipts off: delivered, then confirms without 'read'",
              reads=HIDDEN, answer=CONFIRMED, channel=BUTTON),
    Behaviour("reads_late", "reads it hours later, then confirms", reads=LATE,
              answer=CONFIRMED, channel=BUTTON),
    Behaviour("confirm_button", "taps the confirm button", answer=CONFIRMED, channel=BUTTON),
    Behaviour("confirm_text", "confirms in words, in their language", answer=CONFIRMED, channel=TEXT),
    Behaviour("cancel_button", "taps the cancel button", answer=CANCELLED, channel=BUTTON),
    Behaviour("cancel_text", "cancels in words, in their language", answer=CANCELLED, channel=TEXT),
)}

# Of every number: 12.9 % not reached (6 + 0.7 + 6.2); 65.5 % mean to
# answer and 14 % to cancel, of whom a few are too late (after the
# appointment's start): about 62 % of those sent answer, and 12-13 % of the
# appointments are cancelled once landlines and earlier cancellations count.
DEFAULT_SHARES: Dict[str, float] = {
    "no_whatsapp": 0.060, "no_such_number": 0.007, "phone_off": 0.062,
    "never_reads": 0.070, "reads_no_answer": 0.146,
    "hides_receipts": 0.050, "reads_late": 0.040,
    "confirm_button": 0.320, "confirm_text": 0.105,
    "cancel_button": 0.085, "cancel_text": 0.055,
}

# Answers typed in the citizen's own language (the assistant's NLU knows them);
# a bare "d'acord" / "vale" / "yes" right after the reminder is a confirmation too.
ANSWER_TEXTS: Dict[str, Dict[str, Tuple[str, ...]]] = {
    "ca": {CONFIRMED: ("sí, hi seré", "d'acord, demà hi vaig", "perfecte, hi aniré",
                       "confirmo que vindré", "sí sí, allà seré", "d'acord"),
           CANCELLED: ("no podré venir, anul·leu-la", "no hi podré anar",
                       "m'ha sortit un imprevist i no podré venir, anul·leu-la",
                       "estic malalt, no hi podré anar")},
    "es": {CONFIRMED: ("vale, allí estaré", "sí, iré", "perfecto, allí nos vemos",
                       "de acuerdo, mañana voy", "iré sin falta", "vale"),
           CANCELLED: ("no podré ir, anúlenla por favor", "no puedo ir mañana",
                       "me ha surgido un imprevisto, cancélenla por favor",
                       "estoy enfermo, no podré asistir")},
    "en": {CONFIRMED: ("I'll be there", "yes see you tomorrow", "sounds good, I'll come",
                       "yes I'll be there", "yes"),
           CANCELLED: ("I can't come, please cancel", "something came up, I have to cancel",
                       "I won't be able to make it", "please cancel my appointment")},
}

# Time from sending to an answer: some answer at once, the rest over the
# evening and the next morning; about half within 2 h.
QUICK_SHARE = 0.45
QUICK_MEAN_S = 15 * 60
SLOW_MEDIAN_S = 4 * 3600
SLOW_SIGMA = 0.85
LONGEST_S = 23 * 3600
LATE_READ_S = (3 * 3600, 14 * 3600)
PAUSE_S = (20, 300)  # from reading late to answering


def answer_delay(rng: random.Random) -> float:
    """Seconds from sending to an answer (also when someone reads without answering)."""
    if rng.random() < QUICK_SHARE:
        return 30 + rng.expovariate(1 / QUICK_MEAN_S)
    return min(rng.lognormvariate(math.log(SLOW_MEDIAN_S), SLOW_SIGMA), LONGEST_S)


def late_read_delay(rng: random.Random) -> float:
    return rng.uniform(*LATE_READ_S)


def reply_pause(rng: random.Random) -> float:
    return rng.uniform(*PAUSE_S)


def answer_text(language: Optional[str], answer: str, rng: random.Random) -> str:
    texts = ANSWER_TEXTS.get((language or "ca")[:2], ANSWER_TEXTS["ca"])
    return rng.choice(texts[answer])


def _unit(text: str) -> float:
    """A stable number in [0, 1) for a text (Python's hash() is salted per process)."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:13], 16) / 16 ** 13


class ProfileError(ValueError):
    pass


def _normalised(shares: Mapping[str, float], names, setting: str, kinds: str) -> Dict[str, float]:
    """`shares` checked and scaled to add up to 1, in the order of `names`."""
    unknown = set(shares) - set(names)
    if unknown:
        raise ProfileError(f"unknown {kinds}: {', '.join(sorted(unknown))}; known: {', '.join(names)}")
    if any(not isinstance(v, (int, float)) or v < 0 for v in shares.values()) \
            or sum(shares.values()) <= 0:
        raise ProfileError(f"{setting} must be non-negative numbers, not all zero")
    total = sum(shares.values())
    return {name: shares.get(name, 0.0) / total for name in names}


def _pick(u: float, shares: Mapping[str, float]) -> str:
    """The name whose stretch of [0, 1) holds `u`, stretches in the order of `shares`."""
    cumulative = 0.0
    for name, share in shares.items():
        cumulative += share
        if u < cumulative:
            return name
    return next(n for n, s in reversed(list(shares.items())) if s > 0)  # rounding at the very end


@dataclass(frozen=True)
class Profile:
    name: str = MANUAL
    seed: int = 7
    time_scale: float = 0.001
    shares: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SHARES))
    offer_shares: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_OFFER_SHARES))

    def __post_init__(self):
        if self.name not in PROFILES:
            raise ProfileError(f"profile must be one of: {', '.join(PROFILES)}")
        if not (isinstance(self.time_scale, (int, float)) and 0 < self.time_scale <= 1):
            raise ProfileError("time_scale must be a number in (0, 1]")
        object.__setattr__(self, "shares", _normalised(self.shares, BEHAVIOURS, "shares", "behaviours"))
        object.__setattr__(self, "offer_shares",
                           _normalised(self.offer_shares, OFFER_ANSWERS, "offer_shares", "answers to an offer"))

    @property
    def active(self) -> bool:
        return self.name != MANUAL

    @classmethod
    def realistic(cls, seed: int = 7, time_scale: float = 0.001,
                  offer_shares: Optional[Mapping[str, float]] = None, **shares: float) -> "Profile":
        return cls(REALISTIC, seed, time_scale, {**DEFAULT_SHARES, **shares},
                   {**DEFAULT_OFFER_SHARES, **(offer_shares or {})})

    @classmethod
    def from_dict(cls, data: Mapping) -> "Profile":
        """{"profile": name, "seed"?, "time_scale"?, "shares"?, "offer_shares"?};
        shares merge into the defaults."""
        if not isinstance(data, Mapping):
            raise ProfileError("a profile is an object")
        extra = set(data) - {"profile", "seed", "time_scale", "shares", "offer_shares"}
        if extra:
            raise ProfileError(f"unknown profile settings: {', '.join(sorted(extra))}")
        shares = data.get("shares") or {}
        if not isinstance(shares, Mapping):
            raise ProfileError("shares must be an object {behaviour: share}")
        offer_shares = data.get("offer_shares") or {}
        if not isinstance(offer_shares, Mapping):
            raise ProfileError(f"offer_shares must be an object {{{'|'.join(OFFER_ANSWERS)}: share}}")
        seed = data.get("seed", 7)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ProfileError("seed must be an integer")
        return cls(str(data.get("profile", REALISTIC)), seed, data.get("time_scale", 0.001),
                   {**DEFAULT_SHARES, **shares}, {**DEFAULT_OFFER_SHARES, **offer_shares})

    def to_dict(self) -> dict:
        return {"profile": self.name, "seed": self.seed, "time_scale": self.time_scale,
                "shares": {name: round(share, 6) for name, share in self.shares.items()},
                "offer_shares": {name: round(share, 6) for name, share in self.offer_shares.items()}}

    def behaviour_of(self, number: str) -> Behaviour:
        """The number's behaviour: the same for the same seed and number, everywhere."""
        return BEHAVIOURS[_pick(_unit(f"{self.seed}:{number}"), self.shares)]

    def offer_answer_of(self, number: str) -> str:
        """How the number answers the offer of a freed slot (offer_answers.TAKE,
        DECLINE or NO_ANSWER): the same for the same seed and number, and
        drawn apart from its behaviour with reminders."""
        return _pick(_unit(f"{self.seed}:offer:{number}"), self.offer_shares)

    def rng(self, *key) -> random.Random:
        """Draws for one thing that happens (a reminder, an attendance), reproducible."""
        return random.Random(":".join(str(part) for part in (self.seed, *key)))

    def assignment(self, numbers) -> Counter:
        return Counter(self.behaviour_of(n).name for n in numbers)


def load_profile(spec: str) -> Profile:
    """"manual", "realistic", or a JSON/YAML file of a profile."""
    if spec in PROFILES:
        return Profile.realistic() if spec == REALISTIC else Profile()
    path = Path(spec)
    if not path.exists():
        raise ProfileError(f"{spec!r} is neither {' nor '.join(PROFILES)} nor a profile file")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ProfileError(f"{spec}: not a JSON/YAML profile ({exc})") from None
    return Profile.from_dict(data or {})


# ----------------------------------------------------------- the live replay

def is_reminder(message: dict) -> bool:
    """A template with quick replies that is not the offer of a freed slot."""
    return message["type"] == "hsm" and not is_offer(message) and any(
        c.get("type") == "button" for c in message["content"]["hsm"].get("components", []))


def _template_language(message: dict) -> str:
    return message["content"]["hsm"]["language"]["code"].split("_")[0].split("-")[0]


def _payload_of(choice) -> str:
    content = choice.reply_content
    if "button" in content:
        return content["button"].get("payload") or ""
    return content.get("interactive", {}).get("reply", {}).get("id") or ""


def _index_for(listed, answer: str, fallback: Optional[int]) -> Optional[int]:
    """The button whose payload does `answer` (confirm or cancel)."""
    intent = "confirm_appointment" if answer == CONFIRMED else "cancel_appointment"
    return _index_of_intent(listed, intent, fallback)


def _index_of_intent(listed, intent: str, fallback: Optional[int]) -> Optional[int]:
    """The button whose payload is "/<intent>...", else the `fallback`-th, if there is one."""
    for index, choice in enumerate(listed):
        if _payload_of(choice).startswith("/" + intent):
            return index
    return fallback if fallback is not None and fallback < len(listed) else None


class CitizenReplay:
    """The citizens' side of the WhatsApp simulator under a profile.

    The simulator asks it how a message to a number is delivered
    (`delivery_plan`), whether the number is on WhatsApp and shows read
    receipts, and tells it about every message sent (`on_sent`); under an
    active profile it then reads and answers through the simulator's
    `advance` and `reply` (the `/sim/reply` path)."""

    ASK_BACK_WAIT_S = 30   # simulated seconds before tapping "cancel it" when asked back

    def __init__(self, profile: Optional[Profile] = None):
        self.profile = profile or Profile()
        self._tasks: set = set()
        self._reminders_to: Counter = Counter()
        self._offers_to: Counter = Counter()
        self._cancelling: set = set()  # numbers that just cancelled in words

    # -- configuration
    def configure(self, profile: Profile) -> None:
        """Switches profile; whatever the previous one still had to do is dropped."""
        for task in self._tasks:
            task.cancel()
        self._tasks = set()
        self._reminders_to.clear()
        self._offers_to.clear()
        self._cancelling.clear()
        self.profile = profile
        logger.info("citizens' behaviour: %s", profile.name)

    def behaviour(self, msisdn: str) -> Optional[Behaviour]:
        return self.profile.behaviour_of(msisdn) if self.profile.active else None

    def offer_answer(self, msisdn: str) -> Optional[str]:
        return self.profile.offer_answer_of(msisdn) if self.profile.active else None

    def on_whatsapp(self, msisdn: str) -> bool:
        behaviour = self.behaviour(msisdn)
        return behaviour is None or behaviour.failure is None

    def shows_read_receipts(self, msisdn: str) -> bool:
        behaviour = self.behaviour(msisdn)
        return behaviour is None or behaviour.reads != HIDDEN

    def delivery_plan(self, msisdn: str, delays: Tuple[float, float, float]
                      ) -> Optional[List[Tuple[float, str, Optional[dict]]]]:
        """[(seconds after the send, status, error)], or None: the simulator's own."""
        behaviour = self.behaviour(msisdn)
        if behaviour is None:
            return None
        if behaviour.failure:
            return [(delays[0], "failed", behaviour.failure)]
        if not behaviour.delivered:
            return [(delays[0], "sent", None)]
        # Reading is the citizen's business (on_sent), not the platform's.
        return [(delays[0], "sent", None), (delays[1], "delivered", None)]

    # -- what the citizen does with a message
    def on_sent(self, sim, message: dict) -> None:
        msisdn = message["to"]
        behaviour = self.behaviour(msisdn)
        if behaviour is None or behaviour.failure or not behaviour.delivered:
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        if is_offer(message):
            # Its own count, so that offers do not change the draws of reminders.
            self._offers_to[msisdn] += 1
            rng = self.profile.rng(msisdn, "offer", self._offers_to[msisdn])
            answer = self.profile.offer_answer_of(msisdn)
            self._spawn(self._react_to_offer(sim, message, behaviour, answer, rng, started))
            return
        if is_reminder(message):
            self._reminders_to[msisdn] += 1
            rng = self.profile.rng(msisdn, self._reminders_to[msisdn])
            self._spawn(self._react_to_reminder(sim, message, behaviour, rng, started))
            return
        if msisdn in self._cancelling:
            # Cancelled in words: asked back "do you want to cancel?" -> yes;
            # anything else means the assistant did it at once.
            self._cancelling.discard(msisdn)
            if message["type"] == "interactive":
                self._spawn(self._confirm_cancel(sim, message, started))
                return
        if behaviour.reads in (PROMPT, LATE):
            # The assistant's replies come while the citizen is in the chat.
            self._spawn(self._read(sim, message, started + sim.delays[2]))

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _at(self, sim, started: float, simulated_s: float) -> float:
        """Loop time of something `simulated_s` after the send, never before delivery."""
        return started + max(sim.delays[1] + 0.05, simulated_s * self.profile.time_scale)

    @staticmethod
    async def _until(when: float) -> None:
        await asyncio.sleep(max(0.0, when - asyncio.get_running_loop().time()))

    async def _read(self, sim, message: dict, when: float) -> None:
        await self._until(when)
        await sim.advance(message, "read")

    async def _react_to_reminder(self, sim, message: dict, behaviour: Behaviour,
                                 rng: random.Random, started: float) -> None:
        try:
            if behaviour.reads == NEVER:
                return
            if behaviour.reads == LATE:
                read_s = late_read_delay(rng)
                answer_s = read_s + reply_pause(rng)
            else:
                answer_s = answer_delay(rng)
                read_s = answer_s
            if behaviour.reads != HIDDEN and not behaviour.answers or behaviour.reads == LATE:
                await self._read(sim, message, self._at(sim, started, read_s))
            if behaviour.answers:
                await self._until(self._at(sim, started, answer_s))
                await self._answer(sim, message, behaviour, rng)
        except asyncio.CancelledError:
            raise
        except Exception:  # a citizen's mishap must not take the simulator down
            logger.exception("simulated citizen %s could not answer", message["to"])

    async def _react_to_offer(self, sim, message: dict, behaviour: Behaviour, answer: str,
                              rng: random.Random, started: float) -> None:
        """Taps [Take it] or [No, thanks] after a while, or only reads it (if they ever read)."""
        msisdn = message["to"]
        try:
            if answer == NO_ANSWER:
                if behaviour.reads in (PROMPT, LATE):
                    read_s = late_read_delay(rng) if behaviour.reads == LATE else answer_delay(rng)
                    await self._read(sim, message, self._at(sim, started, read_s))
                return
            await self._until(self._at(sim, started, offer_answer_delay(answer, rng)))
            index = _index_of_intent(sim.choices_of(message), OFFER_INTENTS[answer], TEMPLATE_INDEX[answer])
            if index is None:
                return
            logger.info("simulated citizen %s: %s the offered slot", msisdn, answer)
            await sim.reply({"msisdn": msisdn, "button": {"message_id": message["id"], "index": index}})
        except asyncio.CancelledError:
            raise
        except Exception:  # a citizen's mishap must not take the simulator down
            logger.exception("simulated citizen %s could not answer the offer", msisdn)

    async def _answer(self, sim, message: dict, behaviour: Behaviour, rng: random.Random) -> None:
        msisdn, answer = message["to"], behaviour.answer
        if answer is None:
            return
        if behaviour.channel == TEXT:
            if answer == CANCELLED:
                self._cancelling.add(msisdn)
            body = {"msisdn": msisdn, "text": answer_text(_template_language(message), answer, rng)}
        else:
            index = _index_for(sim.choices_of(message), answer, 0 if answer == CONFIRMED else 1)
            if index is None:
                return
            body = {"msisdn": msisdn, "button": {"message_id": message["id"], "index": index}}
        logger.info("simulated citizen %s: %s", msisdn, behaviour.name)
        await sim.reply(body)

    async def _confirm_cancel(self, sim, message: dict, started: float) -> None:
        """Asked back "do you want to cancel?" after cancelling in words: yes."""
        index = _index_for(sim.choices_of(message), CANCELLED, None)
        if index is None:
            return
        await self._until(self._at(sim, started, self.ASK_BACK_WAIT_S))
        try:
            await sim.reply({"msisdn": message["to"], "button": {"message_id": message["id"], "index": index}})
        except Exception:
            logger.exception("simulated citizen %s could not confirm the cancellation", message["to"])


def describe_profile(profile: Profile) -> List[dict]:
    """The behaviours with their shares (for `GET /sim/behaviour`)."""
    return [{"behaviour": name, "share": round(profile.shares[name], 6),
             "description": BEHAVIOURS[name].description} for name in BEHAVIOURS]


def with_overrides(profile: Profile, seed: Optional[int] = None,
                   time_scale: Optional[float] = None) -> Profile:
    changes: Dict[str, Any] = {k: v for k, v in (("seed", seed), ("time_scale", time_scale)) if v is not None}
    return replace(profile, **changes) if changes else profile
