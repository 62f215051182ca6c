"""Settings shared by every Recorda process, read from the environment.

Defaults are the embedded sandbox set-up (`make run`): SQLite under var/,
the sandbox booking service and the WhatsApp simulator on localhost.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Tuple
from zoneinfo import ZoneInfo

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VAR_DIR = Path(os.environ.get("RECORDA_VAR_DIR", PROJECT_ROOT / "var"))


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


# The Rasa channels (connectors/) that carry citizens' WhatsApp messages:
# one of them sends every message Recorda starts itself (reminders, notices).
WHATSAPP_CHANNELS = ("messagebird", "whatsapp_cloud")


def check_whatsapp_channel(channel: str) -> str:
    """`channel` if it is one of WHATSAPP_CHANNELS; a clear error otherwise."""
    if channel not in WHATSAPP_CHANNELS:
        raise ValueError(f"RECORDA_WHATSAPP_CHANNEL is {channel!r}; "
                         f"it must be one of {', '.join(WHATSAPP_CHANNELS)}")
    return channel


def _read_secret(name: str) -> str:
    """A secret that `make run` generated into var/ (e.g. Rasa's API token)."""
    path = VAR_DIR / name
    return path.read_text().strip() if path.exists() else ""


@dataclass(frozen=True)
class Settings:
    db_url: str
    booking_url: str
    booking_token: str
    rasa_url: str
    rasa_token: str
    timezone: ZoneInfo
    default_region: str
    default_language: str
    offices: tuple = field(default_factory=tuple)
    holidays: tuple = field(default_factory=tuple)
    # Shared by Rasa and the action server: authenticates Rasa's calls to the
    # actions and seals citizens' messages (bot.messaging.seal).
    action_token: str = field(default="", repr=False)
    # The SMS fallback and the citizen's page (bot.citizens.links, bot.apps.web).
    link_secret: str = field(default="", repr=False)
    public_url: str = "http://127.0.0.1:8080"
    sms_api_url: str = "https://rest.messagebird.com"
    messagebird_access_key: str = field(default="", repr=False)
    sms_originator: str = "Ajuntament"
    # The staff console (bot.console, bot.apps.web.console).
    tracker_db_url: str = ""                 # Rasa's SQL tracker store, read-only
    retention_days: int = 90                 # conversations and reminders older go
    console_session_hours: float = 10.0      # a sign-in lasts at most this long
    console_idle_minutes: float = 60.0       # ... and ends sooner when unused
    low_confidence: float = 0.6              # below it a message goes to NLU review
    console_sign_in_failures_per_client: int = 20   # per 15 min, then 429 (0: no limit)
    proxies_count: int = 0                   # reverse proxies in front of the web app
    # The WhatsApp channel of every bot turn Recorda starts (WHATSAPP_CHANNELS).
    whatsapp_channel: str = "messagebird"
    # What a WhatsApp conversation costs (the console's cost figure).
    whatsapp_price: float = 0.04
    free_conversations_per_month: int = 0
    # EUR per billable message by the provider's pricing category, for the
    # messages whose status says so (bot/reports/whatsapp_cost.py).
    whatsapp_category_prices: Tuple[Tuple[str, float], ...] = ()
    # A send claimed this long ago and never recorded was interrupted: the job
    # settles it from the provider's statuses (bot/reminders/interrupted_sends.py).
    interrupted_send_seconds: float = 600.0
    # The action server keeps offices and procedures this many seconds
    # (bot/booking/reference_cache.py); 0: asks the booking system every time.
    booking_reference_ttl: float = 300.0

    def __post_init__(self) -> None:
        check_whatsapp_channel(self.whatsapp_channel)

    @classmethod
    def from_env(cls) -> "Settings":
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        return cls(
            db_url=_env("RECORDA_DB_URL", f"sqlite:///{VAR_DIR / 'recorda.db'}"),
            booking_url=_env("RECORDA_BOOKING_URL", "http://127.0.0.1:8081/api/v1").rstrip("/"),
            booking_token=_env("RECORDA_BOOKING_TOKEN", "sandbox-booking-token"),
            booking_reference_ttl=float(_env("RECORDA_BOOKING_REFERENCE_TTL", "300")),
            rasa_url=_env("RECORDA_RASA_URL", "http://127.0.0.1:5005").rstrip("/"),
            rasa_token=_env("RECORDA_RASA_TOKEN", _read_secret("rasa-token")),
            timezone=ZoneInfo(_env("RECORDA_TIMEZONE", "Europe/Madrid")),
            default_region=_env("RECORDA_DEFAULT_REGION", "ES"),
            default_language=_env("RECORDA_DEFAULT_LANGUAGE", "ca"),
            offices=tuple(o for o in _env("RECORDA_OFFICES", "").split(",") if o),
            action_token=_env("RECORDA_ACTION_TOKEN", _read_secret("action-token")),
            # Public holidays (YYYY-MM-DD, comma-separated): no service, no reminders.
            holidays=tuple(date.fromisoformat(d.strip())
                           for d in _env("RECORDA_HOLIDAYS", "").split(",") if d.strip()),
            # Signs the personal links of the SMS fallback; `make run` generates var/link-secret.
            link_secret=_env("RECORDA_LINK_SECRET", _read_secret("link-secret")),
            # Where citizens reach bot.apps.web (the personal links point there).
            public_url=_env("RECORDA_PUBLIC_URL", "http://127.0.0.1:8080").rstrip("/"),
            sms_api_url=_env("MESSAGEBIRD_SMS_API_URL", "https://rest.messagebird.com").rstrip("/"),
            messagebird_access_key=_env("MESSAGEBIRD_ACCESS_KEY", ""),
            sms_originator=_env("RECORDA_SMS_ORIGINATOR", "Ajuntament"),
            tracker_db_url=_env("RECORDA_TRACKER_DB_URL", "") or tracker_db_url_from_endpoints(
                Path(_env("RECORDA_ENDPOINTS", str(PROJECT_ROOT / "endpoints.yml")))),
            retention_days=int(_env("RECORDA_RETENTION_DAYS", "90")),
            console_session_hours=float(_env("RECORDA_CONSOLE_SESSION_HOURS", "10")),
            console_idle_minutes=float(_env("RECORDA_CONSOLE_IDLE_MINUTES", "60")),
            low_confidence=float(_env("RECORDA_LOW_CONFIDENCE", "0.6")),
            console_sign_in_failures_per_client=int(_env("RECORDA_CONSOLE_CLIENT_FAILURES", "20")),
            proxies_count=int(_env("RECORDA_PROXIES_COUNT", "0")),
            whatsapp_price=float(_env("RECORDA_WHATSAPP_PRICE", "0.04")),
            free_conversations_per_month=int(_env("RECORDA_FREE_CONVERSATIONS", "0")),
            whatsapp_channel=_env("RECORDA_WHATSAPP_CHANNEL", "messagebird"),
            # e.g. "utility=0.0141,marketing=0.0509"
            whatsapp_category_prices=category_prices(_env("RECORDA_WHATSAPP_CATEGORY_PRICES", "")),
            interrupted_send_seconds=float(_env("RECORDA_INTERRUPTED_SEND_SECONDS", "600")),
        )


def category_prices(text: str) -> Tuple[Tuple[str, float], ...]:
    """Parses "utility=0.0141,marketing=0.0509" into ((category, EUR), ...), sorted."""
    prices = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        category, _, price = item.partition("=")
        try:
            value = float(price)
        except ValueError:
            value = None
        if value is None or not category.strip():
            raise ValueError(f"RECORDA_WHATSAPP_CATEGORY_PRICES: {item!r} is not CATEGORY=EUR "
                             "(e.g. utility=0.0141)")
        prices[category.strip().lower()] = value
    return tuple(sorted(prices.items()))


def tracker_db_url_from_endpoints(path: Path) -> str:
    """The SQLAlchemy URL of the SQL tracker store that Rasa's endpoints.yml
    configures (with Rasa's ${VAR} substitution), for the console to read;
    "" when there is none. A relative SQLite path is relative to the project,
    where `make run` starts Rasa."""
    import yaml
    from sqlalchemy.engine import URL
    if not path.exists():
        return ""
    text = re.sub(r"\$\{(\w+)\}", lambda m: os.environ.get(m.group(1), ""), path.read_text())
    store = (yaml.safe_load(text) or {}).get("tracker_store") or {}
    if str(store.get("type", "")).upper() != "SQL":
        return ""
    dialect = store.get("dialect", "sqlite")
    db = str(store.get("db", "rasa.db"))
    if dialect == "sqlite":
        db_path = Path(db) if Path(db).is_absolute() else PROJECT_ROOT / db
        return f"sqlite:///{db_path}"
    drivers = {"postgresql": "postgresql+psycopg2"}
    port = store.get("port")
    return URL.create(drivers.get(dialect, dialect), username=store.get("username"),
                      password=store.get("password"), host=store.get("url"),
                      port=int(port) if port else None, database=db).render_as_string(hide_password=False)

