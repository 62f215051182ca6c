"""Simulated people on a waiting list answer the offer of a freed slot
(bot.dev.sandbox.offer_answers, driven by the citizens' behaviour profile of
bot.dev.sandbox.citizen_behaviour): who takes it, declines it or stays
silent, after how long, through which button; and the reminders' answers
stay what they were. First the profile alone, then its replay in this
process against a stand-in phone (exact timing), then the real simulator
process and its webhooks."""
from __future__ import annotations

import asyncio
import statistics
from itertools import count
from typing import List, Optional, Tuple

import pytest

from bot.dev.sandbox.citizen_behaviour import (
    HIDDEN,
    CitizenReplay,
    Profile,
    ProfileError,
    answer_delay,
    is_reminder,
)
from bot.dev.sandbox.offer_answers import (
    DECLINE,
    DEFAULT_OFFER_SHARES,
    NO_ANSWER,
    OFFER_ANSWERS,
    TAKE,
    is_offer,
    offer_answer_delay,
)
from bot.dev.sandbox.whatsapp_messages import choices
from bot.messaging import payloads
from bot.messaging.templates import load_templates
from tests.support.simulator import CHANNEL_ID, realistic_simulator, sim_call, sim_send

# Waiting-list numbers as the booking seed makes them (71x).
NUMBERS = [f"+3471{n:07d}" for n in range(4000)]
OFFER_PARAMETERS = ["Anna", "tomorrow at 10:30", "Registration", "OAC Centre, Plaça de la Vila 1"]
SEED = 11


def offer(to: str, offer_id: int, language: str = "en") -> dict:
    """The offer as the WhatsApp channel sends it (actions/offers.py: take, then decline)."""
    quick_replies = [payloads.take_offer(offer_id), payloads.decline_offer(offer_id)]
    components = [{"type": "body", "parameters": [{"type": "text", "text": p} for p in OFFER_PARAMETERS]}]
    components += [{"type": "button", "sub_type": "quick_reply", "index": str(i),
                    "parameters": [{"type": "payload", "payload": p}]} for i, p in enumerate(quick_replies)]
    return {"to": to, "from": CHANNEL_ID, "type": "hsm", "content": {"hsm": {
        "namespace": "recorda", "templateName": "recorda_slot_offer",
        "language": {"code": language}, "components": components}}}


def reminder(to: str, appointment_id: str, language: str = "ca") -> dict:
    quick_replies = [payloads.confirm(appointment_id), payloads.cancel(appointment_id)]
    components = [{"type": "body", "parameters": [{"type": "text", "text": p} for p in
                                                  ["Anna", "demà a les 10:00", "Padró", "OAC Centre",
                                                   "https://maps.example.org", "https://docs.example.org"]]}]
    components += [{"type": "button", "sub_type": "quick_reply", "index": str(i),
                    "parameters": [{"type": "payload", "payload": p}]} for i, p in enumerate(quick_replies)]
    return {"to": to, "from": CHANNEL_ID, "type": "hsm", "content": {"hsm": {
        "namespace": "recorda", "templateName": "recorda_appointment_reminder",
        "language": {"code": language}, "components": components}}}


def reached(profile: Profile, number: str) -> bool:
    """The offer arrives, and the phone tells when it is read."""
    behaviour = profile.behaviour_of(number)
    return behaviour.failure is None and behaviour.delivered and behaviour.reads != HIDDEN


def number_answering(profile: Profile, answer: str, behaviour: Optional[str] = None,
                     skip: int = 0) -> str:
    """A reached waiting-list number that gives `answer` to offers (and has `behaviour`)."""
    found = (n for n in (f"+3471{i:07d}" for i in count())
             if profile.offer_answer_of(n) == answer and reached(profile, n)
             and (behaviour is None or profile.behaviour_of(n).name == behaviour))
    for _ in range(skip):
        next(found)
    return next(found)


# ------------------------------------------------------------------ the profile

def test_the_answer_to_offers_is_the_numbers_own_and_depends_on_the_seed():
    first, again, other = Profile.realistic(seed=7), Profile.realistic(seed=7), Profile.realistic(seed=8)
    answers = [first.offer_answer_of(n) for n in NUMBERS]
    assert answers == [again.offer_answer_of(n) for n in NUMBERS]
    assert answers != [other.offer_answer_of(n) for n in NUMBERS]
    assert set(answers) == set(OFFER_ANSWERS)
    # Drawn apart from the reminders: those who confirm reminders by button
    # are no more (nor less) eager for a freed slot than anyone else.
    confirmers = [n for n in NUMBERS if first.behaviour_of(n).name == "confirm_button"]
    takers = sum(first.offer_answer_of(n) == TAKE for n in confirmers) / len(confirmers)
    assert abs(takers - DEFAULT_OFFER_SHARES[TAKE]) < 4 * (0.55 * 0.45 / len(confirmers)) ** 0.5 + 0.01


@pytest.mark.parametrize("profile", [Profile.realistic(seed=7), Profile.realistic(seed=123),
                                     Profile.realistic(seed=7, offer_shares={TAKE: 0.8, NO_ANSWER: 0.0})])
def test_offer_shares_come_out_as_configured(profile):
    answers = [profile.offer_answer_of(n) for n in NUMBERS]
    for answer, share in profile.offer_shares.items():
        tolerance = 4 * (share * (1 - share) / len(NUMBERS)) ** 0.5 + 0.005
        assert abs(answers.count(answer) / len(NUMBERS) - share) <= tolerance, (answer, share)


def test_by_default_most_take_an_offer_some_decline_the_rest_never_answer():
    shares = Profile.realistic().offer_shares
    assert shares == pytest.approx({TAKE: 0.55, DECLINE: 0.15, NO_ANSWER: 0.30})
    assert Profile().offer_shares == shares  # the manual profile carries them too, unused


def test_offer_shares_in_profile_files_and_bad_ones():
    profile = Profile.from_dict({"profile": "realistic", "offer_shares": {"take": 0.9}})
    assert profile.offer_shares[TAKE] > DEFAULT_OFFER_SHARES[TAKE]
    assert abs(sum(profile.offer_shares.values()) - 1) < 1e-9
    assert profile.to_dict()["offer_shares"] == {k: round(v, 6) for k, v in profile.offer_shares.items()}
    assert Profile.from_dict(profile.to_dict()).offer_shares == pytest.approx(profile.offer_shares)
    for bad in ({"offer_shares": {"grab": 0.5}}, {"offer_shares": {"take": -1}},
                {"offer_shares": {"take": 0, "decline": 0, "no_answer": 0}}, {"offer_shares": [0.5]}):
        with pytest.raises(ProfileError):
            Profile.from_dict(bad)


def test_takers_answer_within_minutes_and_before_decliners():
    rngs = [Profile.realistic().rng(n, "offer", 1) for n in NUMBERS[:2000]]
    takes = [offer_answer_delay(TAKE, rng) for rng in rngs]
    declines = [offer_answer_delay(DECLINE, rng) for rng in rngs]
    assert 2 * 60 <= statistics.median(takes) <= 6 * 60
    assert sum(t <= 15 * 60 for t in takes) / len(takes) >= 0.9
    assert sum(t <= 45 * 60 for t in takes) / len(takes) >= 0.99   # offers are valid 45 min
    assert statistics.median(declines) > statistics.median(takes)
    again = Profile.realistic().rng(NUMBERS[0], "offer", 1)
    assert offer_answer_delay(TAKE, again) == takes[0]


def test_an_offer_is_told_from_a_reminder():
    assert is_offer(offer("+34710000001", 3)) and not is_reminder(offer("+34710000001", 3))
    assert is_reminder(reminder("+34710000001", "A-1")) and not is_offer(reminder("+34710000001", "A-1"))
    assert not is_offer({"type": "text", "content": {"text": "/take_offer"}})


# ------------------------------------------- the replay, against a stand-in phone

class Phone:
    """What the replay needs of the simulator: the statuses' delays, the
    buttons under a message, and where taps and reads go (with their time)."""

    delays = (0.001, 0.002, 0.003)

    def __init__(self):
        self.templates = load_templates()
        self.taps: List[Tuple[float, dict]] = []
        self.reads: List[Tuple[float, str]] = []
        self._ids = count(1)

    def sent(self, replay: CitizenReplay, message: dict) -> Tuple[dict, float]:
        message = {**message, "id": f"m{next(self._ids)}"}
        started = asyncio.get_running_loop().time()
        replay.on_sent(self, message)
        return message, started

    def choices_of(self, message: dict):
        return choices(message, self.templates)

    async def reply(self, body: dict) -> None:
        self.taps.append((asyncio.get_running_loop().time(), body))

    async def advance(self, message: dict, status: str) -> None:
        self.reads.append((asyncio.get_running_loop().time(), message["id"]))

    def payload_of(self, message: dict, tap: dict) -> str:
        return self.choices_of(message)[tap["button"]["index"]].reply_content["button"]["payload"]

    async def wait_for_taps(self, how_many: int, timeout: float) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.taps) < how_many:
            assert asyncio.get_running_loop().time() < deadline, f"taps: {self.taps}"
            await asyncio.sleep(0.005)


SCALE = 0.002  # 5 min last 0.6 s


def replayed(simulated_s: float, scale: float = SCALE) -> float:
    """Seconds after the send at which the replay acts (never before delivery)."""
    return max(Phone.delays[1] + 0.05, simulated_s * scale)


@pytest.mark.parametrize("answer, intent", [(TAKE, "take_offer"), (DECLINE, "decline_offer")])
async def test_a_waiting_citizen_taps_the_offers_button_after_their_delay(answer, intent):
    profile = Profile.realistic(seed=SEED, time_scale=SCALE)
    number = number_answering(profile, answer)
    expected_s = replayed(offer_answer_delay(answer, profile.rng(number, "offer", 1)))
    for _ in range(2):  # and the same again with a fresh replay
        phone, replay = Phone(), CitizenReplay(profile)
        message, started = phone.sent(replay, offer(number, 41))
        await phone.wait_for_taps(1, timeout=expected_s + 3)
        [(at, tap)] = phone.taps
        assert tap == {"msisdn": number, "button": {"message_id": message["id"], "index": tap["button"]["index"]}}
        assert phone.payload_of(message, tap) == f'/{intent}{{"offer_id":"41"}}'
        assert expected_s - 0.01 <= at - started <= expected_s + 0.25
        replay.configure(profile)  # drops anything left


async def test_the_button_is_found_by_its_payload_whatever_its_place():
    profile = Profile.realistic(seed=SEED, time_scale=0.00001)
    number = number_answering(profile, TAKE)
    swapped = offer(number, 5)
    for component, index in zip(swapped["content"]["hsm"]["components"][1:], ("1", "0")):
        component["index"] = index
    phone, replay = Phone(), CitizenReplay(profile)
    message, _ = phone.sent(replay, swapped)
    await phone.wait_for_taps(1, timeout=2)
    assert phone.taps[0][1]["button"]["index"] == 1
    assert phone.payload_of(message, phone.taps[0][1]) == payloads.take_offer(5)


async def test_silent_ones_never_tap_and_the_unreached_never_see_it():
    profile = Profile.realistic(seed=SEED, time_scale=0.00001)  # a day lasts 0.9 s
    silent = number_answering(profile, NO_ANSWER, behaviour="confirm_button")
    unreached = next(n for n in NUMBERS if profile.offer_answer_of(n) == TAKE
                     and profile.behaviour_of(n).name in ("no_whatsapp", "phone_off"))
    phone, replay = Phone(), CitizenReplay(profile)
    silent_offer, _ = phone.sent(replay, offer(silent, 1))
    phone.sent(replay, offer(unreached, 2))
    await asyncio.sleep(1.2)
    assert phone.taps == []
    assert [message_id for _, message_id in phone.reads] == [silent_offer["id"]]  # read, not answered


async def test_the_share_of_takers_among_many_waiting_citizens():
    profile = Profile.realistic(seed=SEED, time_scale=0.00001)
    numbers = [n for n in NUMBERS[:600] if profile.behaviour_of(n).failure is None
               and profile.behaviour_of(n).delivered]
    phone, replay = Phone(), CitizenReplay(profile)
    sent = {n: phone.sent(replay, offer(n, i))[0] for i, n in enumerate(numbers)}
    await asyncio.sleep(0.3)  # 8 h of a day: every tap is in
    by_number = {tap["msisdn"]: phone.payload_of(sent[tap["msisdn"]], tap) for _, tap in phone.taps}
    assert len(by_number) == len(phone.taps)  # one tap each, at most
    took = sum(payload.startswith("/take_offer") for payload in by_number.values()) / len(numbers)
    declined = sum(payload.startswith("/decline_offer") for payload in by_number.values()) / len(numbers)
    assert abs(took - 0.55) <= 4 * (0.55 * 0.45 / len(numbers)) ** 0.5
    assert abs(declined - 0.15) <= 4 * (0.15 * 0.85 / len(numbers)) ** 0.5
    replay.configure(profile)


async def test_an_offer_does_not_change_how_the_same_citizen_answers_a_reminder():
    profile = Profile.realistic(seed=SEED, time_scale=SCALE)
    # Someone who confirms reminders by button and never answers offers, and
    # whose first and second reminder delays differ: an offer counted as a
    # reminder would move the tap.
    number = next(n for n in (number_answering(profile, NO_ANSWER, "confirm_button", skip=i) for i in count())
                  if answer_delay(profile.rng(n, 1)) < 1800
                  and abs(answer_delay(profile.rng(n, 1)) - answer_delay(profile.rng(n, 2))) > 300)
    expected_s = replayed(answer_delay(profile.rng(number, 1)))
    phone, replay = Phone(), CitizenReplay(profile)
    phone.sent(replay, offer(number, 9))
    message, started = phone.sent(replay, reminder(number, "A-3"))
    await phone.wait_for_taps(1, timeout=expected_s + 3)
    [(at, tap)] = phone.taps
    assert tap["button"]["message_id"] == message["id"]
    assert phone.payload_of(message, tap) == payloads.confirm("A-3")
    assert expected_s - 0.01 <= at - started <= expected_s + 0.25
    replay.configure(profile)


# ---------------------------------------------------- live, in the simulator

LIVE_SCALE = 0.00002  # a day lasts 1.7 s


@pytest.fixture(scope="module")
def simulator(receiver):
    with realistic_simulator(receiver, LIVE_SCALE, SEED) as sim:
        yield sim


def statuses(receiver, message_id):
    return [e["message"]["status"] for e in receiver.events(message_id) if e["type"] == "message.updated"]


async def test_waiting_citizens_answer_offers_through_signed_webhooks(live, receiver, http):
    profile = Profile.realistic(seed=SEED)
    taker, decliner = number_answering(profile, TAKE), number_answering(profile, DECLINE)
    silent = number_answering(profile, NO_ANSWER)
    status, shown = await sim_call(http, live, "GET", f"/sim/behaviour?msisdn={taker}")
    assert status == 200 and shown["number"]["offer_answer"] == TAKE
    assert shown["offer_shares"] == pytest.approx(DEFAULT_OFFER_SHARES)
    sent = {taker: await sim_send(http, live, offer(taker, 7)),
            decliner: await sim_send(http, live, offer(decliner, 8, "ca")),
            silent: await sim_send(http, live, offer(silent, 9, "es"))}
    await receiver.wait_for(lambda _: receiver.messages_from(taker) and receiver.messages_from(decliner), timeout=10)
    await asyncio.sleep(0.5)  # time enough for anything that should not happen

    [take] = receiver.messages_from(taker)
    assert take["type"] == "button" and take["replyTo"]["id"] == sent[taker]
    assert take["content"]["button"] == {"text": "Take it", "payload": '/take_offer{"offer_id":"7"}'}
    assert statuses(receiver, sent[taker]) == ["sent", "delivered", "read"]
    [decline] = receiver.messages_from(decliner)
    assert decline["content"]["button"] == {"text": "No, gràcies", "payload": '/decline_offer{"offer_id":"8"}'}
    assert not receiver.messages_from(silent)


async def test_the_phone_page_shows_the_offer_and_its_two_buttons(live, receiver, http):
    number = number_answering(Profile.realistic(seed=SEED), NO_ANSWER)
    message_id = await sim_send(http, live, offer(number, 12))
    status, [shown] = await sim_call(http, live, "GET", f"/sim/messages?msisdn={number.replace('+', '%2B')}")
    assert status == 200 and shown["id"] == message_id
    assert shown["rendered"].startswith("Hello Anna. An appointment has become free")
    assert "tomorrow at 10:30" in shown["rendered"] and "{{" not in shown["rendered"]
    assert shown["buttons"] == [{"index": 0, "title": "Take it"}, {"index": 1, "title": "No, thanks"}]
    _, contacts = await sim_call(http, live, "GET", "/sim/contacts")
    assert any(c["msisdn"] == number and c["message_count"] == 1 for c in contacts)
