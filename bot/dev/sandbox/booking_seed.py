"""The sandbox booking database: its schema and realistic seed data for the
fictional "Ajuntament de Vilademar".

Appointments are generated relative to the seeding day (Europe/Madrid), so a
demo always has a next service day to send reminders for: every sandbox
citizen (bot/dev/sandbox/citizens.py) has one then, edge cases included.
The data is deterministic for a given day.

Before that, the town's own past: PAST_SERVICE_DAYS service days of 15-30
appointments per office, whose statuses (confirmed, cancelled, attended,
no-show, and when) follow the story of each one's reminder
(bot.dev.sandbox.past_reminders), which the history filler
(bot.dev.sandbox.history) writes into the reminder store. A past day's
appointments and their ids depend on that day only, so databases seeded on
different days agree about the days they share.

Waiting lists: a few people per office and procedure, who joined in the
days before the seeding day (build_waiting_list), so a demo has someone to
offer a freed slot to.

Storage conventions: `starts_at` is the naive Europe/Madrid wall-clock time
(what the citizen was told); the event stamps (`confirmed_at`,
`cancelled_at`, `attended_at`) are naive UTC, so they stay unambiguous
across daylight-saving changes.
"""
from __future__ import annotations

import random
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta, timezone
from typing import Dict, Iterator, List, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, MetaData, String, Table, text
from sqlalchemy.engine import Connection, Engine

from bot.booking import ATTENDED, BOOKED, CANCELLED, CONFIRMED, NO_SHOW
from bot.dev.sandbox import past_reminders
from bot.dev.sandbox.citizen_behaviour import Profile
from bot.dev.sandbox.citizens import CITIZENS, Citizen
from bot.foundation.phone import check_for_whatsapp, to_e164
from bot.offices.service_days import is_service_day, next_service_day, previous_service_day, service_days_after
from bot.offices.settings import for_office

MADRID = ZoneInfo("Europe/Madrid")
SLOT = timedelta(minutes=15)
# Bumped when the seed changes what it makes: a database of an older seed is reseeded.
SEED_VERSION = 4  # 3: waiting lists; 4: a freed place is taken once (rebooked_as)

metadata = MetaData()

offices = Table(
    "offices", metadata,
    Column("id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("address", String, nullable=False),
    Column("map_url", String, nullable=False),
    Column("phone", String, nullable=False),
    Column("opening_hours", JSON, nullable=False),  # [{weekday, opens, closes}]
    Column("late_policy_minutes", Integer, nullable=False),
)

procedures = Table(
    "procedures", metadata,
    Column("id", String, primary_key=True),
    Column("name", JSON, nullable=False),  # {ca, es, en}
    Column("documents_url", String, nullable=False),
)

appointments = Table(
    "appointments", metadata,
    Column("id", String, primary_key=True),
    Column("office_id", String, ForeignKey("offices.id"), nullable=False),
    Column("procedure_id", String, ForeignKey("procedures.id"), nullable=False),
    Column("starts_at", DateTime, nullable=False, index=True),  # naive Madrid wall clock
    Column("duration_minutes", Integer, nullable=False),
    Column("citizen_name", String, nullable=False),
    Column("phone", String, nullable=False),  # as a clerk typed it
    Column("phone_e164", String, index=True),  # None when it cannot be parsed
    Column("language", String(2), nullable=False),
    Column("status", String, nullable=False),
    Column("confirmed_at", DateTime),  # naive UTC
    Column("cancelled_at", DateTime),
    Column("attended_at", DateTime),
    # A cancelled appointment's place, once a waiting-list booking took it.
    Column("rebooked_as", String, unique=True),
)

# Waiting-list entry states: only WAITING entries are on the list.
WAITING, LEFT, SLOT_BOOKED = "waiting", "left", "booked"

waiting_list = Table(
    "waiting_list", metadata,
    # The entry's API id is "WL-<number>"; the number also orders entries joined in one second.
    Column("number", Integer, primary_key=True),
    Column("office_id", String, ForeignKey("offices.id"), nullable=False),
    Column("procedure_id", String, ForeignKey("procedures.id"), nullable=False),
    Column("citizen_name", String, nullable=False),
    Column("phone", String, nullable=False),       # as given
    Column("phone_e164", String, nullable=False),  # what "the same person" is matched on
    Column("language", String(2), nullable=False),
    Column("created_at", DateTime, nullable=False),  # naive UTC
    Column("status", String, nullable=False),        # WAITING | LEFT | SLOT_BOOKED
    Column("ended_at", DateTime),                    # naive UTC: when it left or got a slot
    Column("appointment_id", String, ForeignKey("appointments.id"), unique=True),
    # One place per phone on a list, whatever two concurrent joins do.
    Index("waiting_list_one_place", "office_id", "procedure_id", "phone_e164", unique=True,
          sqlite_where=text(f"status = '{WAITING}'"), postgresql_where=text(f"status = '{WAITING}'")),
)

BOOKING_URL = "https://www.vilademar.cat/cita-previa"
DOCUMENTS_URL = "https://www.vilademar.cat/tramits/"


def booking_link(language: str) -> str:
    """The public booking page; Catalan is the site's default language."""
    return BOOKING_URL if language == "ca" else f"{BOOKING_URL}?lang={language}"


def _map_url(lat: float, lon: float) -> str:
    return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=18/{lat}/{lon}"


def _weekdays(opens: str, closes: str, days: Sequence[int] = range(5)) -> List[dict]:
    return [{"weekday": d, "opens": opens, "closes": closes} for d in days]


OFFICES = [
    {
        "id": "oac-centre", "name": "OAC Centre",
        "address": "Plaça de la Vila, 1, 08800 Vilademar",
        "map_url": _map_url(41.2238, 1.7252), "phone": "+34 938 100 100",
        # Thursday afternoons for people who work mornings.
        "opening_hours": _weekdays("09:00", "14:00") + _weekdays("16:00", "19:00", [3]),
        "late_policy_minutes": 10,
    },
    {
        "id": "oac-can-mas", "name": "OAC Can Mas",
        "address": "Carrer de la Riera, 42, 08801 Vilademar",
        "map_url": _map_url(41.2301, 1.7158), "phone": "+34 938 100 120",
        "opening_hours": _weekdays("09:00", "14:00"),
        "late_policy_minutes": 10,
    },
    {
        "id": "oac-la-platja", "name": "OAC La Platja",
        "address": "Passeig Marítim, 15, 08800 Vilademar",
        "map_url": _map_url(41.2175, 1.7321), "phone": "+34 938 100 140",
        "opening_hours": _weekdays("09:00", "13:30"),
        "late_policy_minutes": 5,
    },
]

# (id, {language: name}, duration in minutes)
_PROCEDURES = [
    ("alta-padro", {"ca": "Alta al padró d'habitants",
                    "es": "Alta en el padrón de habitantes (empadronamiento)",
                    "en": "Registering on the municipal register (padró)"}, 15),
    ("certificat-convivencia", {"ca": "Certificat de convivència",
                                "es": "Certificado de convivencia",
                                "en": "Certificate of cohabitation"}, 15),
    ("targeta-rosa", {"ca": "Targeta rosa de transport",
                      "es": "Tarjeta rosa de transporte",
                      "en": "Pink card for reduced public transport fares"}, 15),
    ("obres-menors", {"ca": "Llicència d'obres menors",
                      "es": "Licencia de obras menores",
                      "en": "Minor building works licence"}, 30),
    ("registre-general", {"ca": "Registre general (entrada de documents)",
                          "es": "Registro general (entrada de documentos)",
                          "en": "General register (submitting documents)"}, 15),
    ("ajuts-socials", {"ca": "Ajuts socials (serveis socials)",
                       "es": "Ayudas sociales (servicios sociales)",
                       "en": "Social assistance (social services)"}, 30),
    ("bonificacio-ibi", {"ca": "Bonificació de l'IBI",
                         "es": "Bonificación del IBI",
                         "en": "Property tax (IBI) rebate"}, 15),
]
PROCEDURES = [{"id": pid, "name": names, "documents_url": DOCUMENTS_URL + pid}
              for pid, names, _ in _PROCEDURES]
_DURATIONS = {pid: minutes for pid, _, minutes in _PROCEDURES}


def duration_minutes(procedure_id: str) -> int:
    """How long an appointment for the procedure lasts."""
    return _DURATIONS[procedure_id]

_BENCH_FIRST = ["Anna", "Pau", "Marta", "Joan", "Sílvia", "David", "Elena", "Sergi", "Clara", "Àlex"]
_BENCH_LAST = ["Vidal", "Soler", "Ribas", "Costa", "Camps", "Ferrer", "Bosch", "Font", "Mas", "Roca"]


def office_slots(office: dict, day: date) -> List[datetime]:
    """The 15-minute appointment starts of an office on a day (naive local)."""
    slots = []
    for hours in office["opening_hours"]:
        if hours["weekday"] != day.weekday():
            continue
        start = datetime.combine(day, time.fromisoformat(hours["opens"]))
        end = datetime.combine(day, time.fromisoformat(hours["closes"]))
        while start + SLOT <= end:
            slots.append(start)
            start += SLOT
    return slots


def _to_utc(local: datetime) -> datetime:
    return local.replace(tzinfo=MADRID).astimezone(timezone.utc).replace(tzinfo=None)


class _Agenda:
    """Hands out free slots and appointment ids while the seed is built."""

    def __init__(self, today: date):
        self.today = today
        self.rng = random.Random(f"vilademar:{today.isoformat()}")
        # Numbering starts from the day of the year so that a database seeded
        # on another day does not reuse ids that other stores may remember.
        self._next_number = today.timetuple().tm_yday * 150
        self._free: Dict[tuple, List[datetime]] = {}
        self.rows: List[dict] = []

    def add(self, citizen: Citizen, day: date, status: str,
            office: Optional[dict] = None, starts_at: Optional[datetime] = None) -> None:
        if starts_at is None:
            office, starts_at = self._take_slot(day)
        procedure = self.rng.choice(PROCEDURES)
        self._next_number += 1
        self.rows.append({
            "id": f"VLD-{self.today.year}-{self._next_number:06d}",
            "office_id": office["id"], "procedure_id": procedure["id"],
            "starts_at": starts_at, "duration_minutes": _DURATIONS[procedure["id"]],
            "citizen_name": citizen.name, "phone": citizen.phone,
            "phone_e164": to_e164(citizen.phone), "language": citizen.language,
            "status": status, **self._history(status, starts_at),
        })

    def _take_slot(self, day: date):
        open_offices = [o for o in OFFICES if self._free_slots(o, day)]
        office = self.rng.choice(open_offices)
        free = self._free_slots(office, day)
        return office, free.pop(self.rng.randrange(len(free)))

    def _free_slots(self, office: dict, day: date) -> List[datetime]:
        return self._free.setdefault((office["id"], day), office_slots(office, day))

    def _history(self, status: str, starts_at: datetime) -> dict:
        """Plausible timestamps: answers come the evening before the
        appointment (or yesterday evening, never after the seeding day)."""
        answer_day = min(starts_at.date(), self.today) - timedelta(days=1)
        answered = datetime.combine(answer_day, time(18)) + timedelta(minutes=self.rng.randrange(180))
        stamps = {"confirmed_at": None, "cancelled_at": None, "attended_at": None}
        if status == CONFIRMED:
            stamps["confirmed_at"] = _to_utc(answered)
        if status == CANCELLED:
            stamps["cancelled_at"] = _to_utc(answered)
        if status == ATTENDED:
            stamps["attended_at"] = _to_utc(starts_at + timedelta(minutes=self.rng.randrange(3, 20)))
        return stamps


def build_appointments(today: date, bench_appointments: int = 0) -> List[dict]:
    """Appointment rows around `today`: the town's last PAST_SERVICE_DAYS
    service days (the sandbox citizens in the last three of them), today,
    the next service day (every sandbox citizen) and four more."""
    agenda = _Agenda(today)
    _add_town_past(agenda, today)
    _add_past(agenda, today)
    if is_service_day(today):
        for citizen in agenda.rng.sample(CITIZENS, 6):
            status = agenda.rng.choices([BOOKED, CONFIRMED, CANCELLED], [40, 45, 15])[0]
            agenda.add(citizen, today, status)
    next_day = next_service_day(today)
    for citizen in CITIZENS:
        agenda.add(citizen, next_day, BOOKED)
    _add_later(agenda, next_day)
    _add_bench(agenda, next_day, bench_appointments)
    return agenda.rows


def _spread(agenda: _Agenda, days: List[date], statuses: List[str]) -> None:
    """One appointment per status, for distinct citizens, over the days."""
    for i, (citizen, status) in enumerate(zip(agenda.rng.sample(CITIZENS, len(statuses)), statuses)):
        agenda.add(citizen, days[i % len(days)], status)


def _add_past(agenda: _Agenda, today: date) -> None:
    last = previous_service_day(today)
    before = previous_service_day(last)
    outcomes = [ATTENDED] * 6 + [NO_SHOW] * 2 + [CANCELLED] * 2
    agenda.rng.shuffle(outcomes)
    _spread(agenda, [before, previous_service_day(before)], outcomes)
    # The last service day's attendance is still to be recorded by staff.
    _spread(agenda, [last], [BOOKED, CONFIRMED] * 2 + [BOOKED])


# --- the town's past ---------------------------------------------------------------

PAST_SERVICE_DAYS = 20
TOWN_ID_BASE = 500_000  # + day of the year * 1000 + n: clear of the seeding-day numbering
FREE_SLOTS_KEPT = 3     # per office and day, for the sandbox citizens' own past appointments
CANCELLED_BEFORE_SHARE = 0.02   # cancelled by phone or web days before the reminder
LANDLINE_SHARE, INVALID_SHARE = 0.015, 0.005
TOWN_LANGUAGES = (("ca", 0.55), ("es", 0.38), ("en", 0.07))
_TOWN_FIRST = {
    "ca": ["Jordi", "Montse", "Pere", "Núria", "Joan", "Mercè", "Xavier", "Roser", "Albert", "Laia",
           "Ramon", "Glòria", "Arnau", "Neus", "Ferran", "Aina"],
    "es": ["Manuel", "Carmen", "Francisco", "Ana", "Javier", "Lucía", "Miguel", "Rosa", "Alejandro",
           "Pilar", "Mohamed", "Fátima", "Ionut", "Elena", "Carlos", "Dolores"],
    "en": ["James", "Sarah", "Michael", "Emma", "Thomas", "Olivia", "Lukas", "Anna", "John", "Sophie"],
}
_TOWN_LAST = {
    "ca": ["Puig", "Soler", "Vila", "Ferrer", "Roca", "Pujol", "Casas", "Serra", "Font", "Bosch",
           "Riera", "Sala", "Mas", "Prat", "Vidal", "Camps"],
    "es": ["García", "Martínez", "López", "Sánchez", "Pérez", "Gómez", "Ruiz", "Díaz", "Moreno",
           "Jiménez", "Álvarez", "Romero", "El Idrissi", "Popescu", "Navarro", "Torres"],
    "en": ["Smith", "Jones", "Taylor", "Brown", "Wilson", "Evans", "Müller", "Schmidt", "Walsh",
           "Murphy"],
}


def past_service_days(today: date, count: int = PAST_SERVICE_DAYS) -> List[date]:
    """The `count` service days before `today`, oldest first."""
    days, day = [], today
    for _ in range(count):
        day = previous_service_day(day)
        days.append(day)
    return days[::-1]


def _add_town_past(agenda: _Agenda, today: date) -> None:
    profile = Profile.realistic()  # the profile the history filler uses by default
    last = previous_service_day(today)
    for day in past_service_days(today):
        agenda.rows.extend(_town_day(agenda, day, day == last, profile))


def _town_day(agenda: _Agenda, day: date, attendance_pending: bool, profile: Profile) -> List[dict]:
    """One past service day of the town: the same rows whoever seeds it, except
    that the attendance of the last service day is not recorded yet."""
    rng = random.Random(f"vilademar:town:{day.isoformat()}")
    rows: List[dict] = []
    for office in OFFICES:
        slots = office_slots(office, day)
        count = rng.randint(max(10, int(len(slots) * 0.7)), len(slots) - FREE_SLOTS_KEPT)
        taken = set(rng.sample(range(len(slots)), count))
        agenda._free[(office["id"], day)] = [s for i, s in enumerate(slots) if i not in taken]
        for index in sorted(taken):
            number = TOWN_ID_BASE + day.timetuple().tm_yday * 1000 + len(rows) + 1
            citizen = _town_citizen(rng, day, len(rows) + 1)
            procedure = rng.choice(PROCEDURES)
            row = {"id": f"VLD-{day.year}-{number:06d}", "office_id": office["id"],
                   "procedure_id": procedure["id"], "starts_at": slots[index],
                   "duration_minutes": _DURATIONS[procedure["id"]], "citizen_name": citizen.name,
                   "phone": citizen.phone, "phone_e164": to_e164(citizen.phone),
                   "language": citizen.language}
            rows.append({**row, **_town_outcome(row, attendance_pending, profile)})
    return rows


def _town_name(rng: random.Random) -> Tuple[str, str]:
    """(name, language) of someone from the town."""
    language = rng.choices([c for c, _ in TOWN_LANGUAGES], [w for _, w in TOWN_LANGUAGES])[0]
    name = (f"{rng.choice(_TOWN_FIRST[language])} {rng.choice(_TOWN_LAST[language])}"
            + (f" {rng.choice(_TOWN_LAST[language])}" if language != "en" else ""))
    return name, language


def _town_citizen(rng: random.Random, day: date, n: int) -> Citizen:
    name, language = _town_name(rng)
    kind = rng.random()
    if kind < INVALID_SHARE:
        phone = rng.choice(["", "60123", "6000 000"])
    elif kind < INVALID_SHARE + LANDLINE_SHARE:
        phone = f"93 8{n % 100:02d} {day.toordinal() % 100:02d} {rng.randrange(100):02d}"
    else:
        # 60x numbers: valid Spanish mobiles, clear of the sandbox citizens' and the bench's (69x).
        digits = f"60{day.toordinal() % 1000:03d}{n:04d}"
        phone = rng.choice([f"{digits[:3]} {digits[3:6]} {digits[6:]}", digits,
                            f"+34 {digits[:3]} {digits[3:5]} {digits[5:7]} {digits[7:]}"])
    return Citizen(name, phone, language)


def _town_outcome(row: dict, attendance_pending: bool, profile: Profile) -> dict:
    """Status and stamps of a past appointment, as its reminder's story has them."""
    rng = random.Random(f"vilademar:town:{row['id']}")
    starts_at = row["starts_at"]
    sent_at = past_reminders.reminder_sent_at(row["office_id"], starts_at)
    stamps = {"confirmed_at": None, "cancelled_at": None, "attended_at": None}
    if rng.random() < CANCELLED_BEFORE_SHARE:
        earlier = sent_at - timedelta(days=rng.randint(1, 6), minutes=rng.randrange(600))
        return {"status": CANCELLED, **stamps, "cancelled_at": _naive(earlier)}
    check = check_for_whatsapp(row["phone"])
    if not check.usable:
        outcome = past_reminders.OUTCOME_FAILED
    else:
        deadline = past_reminders.answer_deadline(sent_at, for_office(row["office_id"]).reply_window,
                                                  starts_at.replace(tzinfo=MADRID))
        story = past_reminders.plan_past_reminder(profile, check.e164, row["id"], sent_at, deadline)
        if story.answer == CANCELLED:
            return {"status": CANCELLED, **stamps, "cancelled_at": _naive(story.answered_at)}
        if story.answer == CONFIRMED:
            stamps["confirmed_at"] = _naive(story.answered_at)
        outcome = story.outcome
    if attendance_pending:
        return {"status": CONFIRMED if stamps["confirmed_at"] else BOOKED, **stamps}
    if past_reminders.shows_up(profile, row["id"], outcome):
        stamps["attended_at"] = _to_utc(starts_at + timedelta(minutes=rng.randrange(3, 20)))
        return {"status": ATTENDED, **stamps}
    return {"status": NO_SHOW, **stamps}


def _naive(moment: datetime) -> datetime:
    """Naive UTC, whole seconds: how the booking database keeps event stamps."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)


def _add_later(agenda: _Agenda, next_day: date) -> None:
    """Second appointments for some citizens; a few answered already (by
    phone), so every seed has confirmed and cancelled upcoming ones."""
    _spread(agenda, service_days_after(next_day, 4), [CANCELLED, CONFIRMED, CONFIRMED] + [BOOKED] * 7)


def _add_bench(agenda: _Agenda, day: date, count: int) -> None:
    """Many more appointments than the offices have slots: each office has
    several desks, so bench appointments share slots round-robin."""
    slots = [(office, start) for office in OFFICES for start in office_slots(office, day)]
    for i in range(count):
        name = f"{_BENCH_FIRST[i % 10]} {_BENCH_LAST[(i // 10) % 10]} {i + 1}"
        # 69x numbers: valid Spanish mobiles, clear of the sandbox citizens'.
        phone = f"69{i:07d}"
        citizen = Citizen(name, f"{phone[:3]} {phone[3:6]} {phone[6:]}", ("ca", "es", "en")[i % 3])
        office, starts_at = slots[i % len(slots)]
        agenda.add(citizen, day, BOOKED, office=office, starts_at=starts_at)


# --- waiting lists ----------------------------------------------------------------

WAITING_PER_LIST = (1, 3)  # people waiting per office and procedure, at least and at most
WAITING_CITIZENS = 3       # sandbox citizens among them, so a demo can follow one on WhatsApp


def waiting_entry_id(number: int) -> str:
    return f"WL-{number}"


def build_waiting_list(today: date) -> List[dict]:
    """waiting_list rows: a few people per office and procedure who joined
    in the last two weeks, oldest first. Numbers start from the seeding day
    so that a database seeded on another day does not reuse entry ids; the
    rows are the same for the same day."""
    rng = random.Random(f"vilademar:waiting:{today.isoformat()}")
    lists = [(str(office["id"]), str(procedure["id"])) for office in OFFICES for procedure in PROCEDURES]
    people: List[Tuple[str, str, Citizen]] = []
    for office_id, procedure_id in lists:
        for _ in range(rng.randint(*WAITING_PER_LIST)):
            people.append((office_id, procedure_id, _waiting_citizen(rng, len(people) + 1)))
    with_whatsapp = [c for c in CITIZENS if c.has_whatsapp and check_for_whatsapp(c.phone).usable]
    for citizen in rng.sample(with_whatsapp, WAITING_CITIZENS):
        office_id, procedure_id = rng.choice(lists)
        people.append((office_id, procedure_id, citizen))
    joined = sorted(((datetime.combine(today - timedelta(days=rng.randint(1, 14)), time(8))
                      + timedelta(minutes=rng.randrange(12 * 60)), person) for person in people),
                    key=lambda pair: pair[0])
    first = today.toordinal() * 1000 + 1
    return [{"number": first + i, "office_id": office_id, "procedure_id": procedure_id,
             "citizen_name": citizen.name, "phone": citizen.phone, "phone_e164": to_e164(citizen.phone),
             "language": citizen.language, "created_at": _to_utc(created_at), "status": WAITING,
             "ended_at": None, "appointment_id": None}
            for i, (created_at, (office_id, procedure_id, citizen)) in enumerate(joined)]


def _waiting_citizen(rng: random.Random, n: int) -> Citizen:
    name, language = _town_name(rng)
    # 71x numbers: valid Spanish mobiles, clear of the town's (60x), the bench's (69x)
    # and the sandbox citizens'.
    digits = f"71{n:07d}"
    return Citizen(name, f"+34 {digits[:3]} {digits[3:6]} {digits[6:]}", language)


@contextmanager
def _transaction(conn_or_engine) -> Iterator[Connection]:
    if isinstance(conn_or_engine, Engine):
        with conn_or_engine.begin() as conn:
            yield conn
    else:
        yield conn_or_engine


def seed(conn_or_engine, today: date, bench_appointments: int = 0) -> None:
    """Replaces the whole database with the seed for `today`.
    Given a Connection, the caller owns (and commits) the transaction."""
    rows = build_appointments(today, bench_appointments)
    with _transaction(conn_or_engine) as conn:
        metadata.drop_all(conn)
        metadata.create_all(conn)
        conn.execute(offices.insert(), OFFICES)
        conn.execute(procedures.insert(), PROCEDURES)
        conn.execute(appointments.insert(), rows)
        conn.execute(waiting_list.insert(), build_waiting_list(today))
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(f"PRAGMA user_version = {SEED_VERSION}")


def seed_version(conn_or_engine) -> int:
    """The SEED_VERSION the database was seeded with (0: before versions, or not SQLite)."""
    with _transaction(conn_or_engine) as conn:
        if conn.dialect.name != "sqlite":
            return SEED_VERSION
        return conn.exec_driver_sql("PRAGMA user_version").scalar() or 0
