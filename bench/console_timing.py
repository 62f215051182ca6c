"""How bench/console_pages.py times the console: the pages it requests,
the citizen and office it shows, a signed-in client, and the figures of
each page (percentiles, statuses, the rows it showed)."""
from __future__ import annotations

import contextlib
import logging
import re
import resource
import sqlite3
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import aiohttp

import bot.foundation.clock
from bench._common import summary_ms

log = logging.getLogger("bench.console_pages")

TARGET_P95_MS = 1000


def rss_mb() -> float:
    """This process' resident memory now (Linux /proc)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)   # KiB on Linux


class Client:
    """A signed-in browser: cookies (unsafe=True: kept for 127.0.0.1), the form's CSRF token."""

    def __init__(self, base: str):
        self.base = base
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                             timeout=aiohttp.ClientTimeout(total=120))
        self.csrf = ""          # the session's token, for the forms it sends

    async def sign_in(self, username: str, password: str) -> None:
        async with self.session.get(self.base + "/console/sign-in") as resp:
            html = await resp.text()
        csrf = re.search(r'name="csrf" value="([^"]+)"', html)
        if csrf is None:
            raise RuntimeError("no CSRF token on the sign-in page")
        async with self.session.post(self.base + "/console/sign-in", data={
                "username": username, "password": password, "csrf": csrf.group(1)}) as resp:
            html = await resp.text()
            if resp.status != 200 or "sign-out" not in html:
                raise RuntimeError(f"sign-in failed: HTTP {resp.status}")
        self.csrf = re.search(r'name="csrf" value="([^"]+)"', html).group(1)

    async def timed(self, page: "PageToTime") -> Tuple[float, int, bytes]:
        return await (self.timed_post(page.path, page.form) if page.form else self.timed_get(page.path))

    async def timed_get(self, path: str) -> Tuple[float, int, bytes]:
        started = time.perf_counter()
        async with self.session.get(self.base + path, allow_redirects=False) as resp:
            body = await resp.read()
            status = resp.status
        return time.perf_counter() - started, status, body

    async def timed_post(self, path: str, form: Dict[str, str]) -> Tuple[float, int, bytes]:
        """A form sent as a browser sends it: the POST, then the page its
        303 leads to (the status is that page's, or the POST's own when it
        did not redirect)."""
        started = time.perf_counter()
        async with self.session.post(self.base + path, data={**form, "csrf": self.csrf},
                                     allow_redirects=True) as resp:
            body = await resp.read()
            status = resp.status
        return time.perf_counter() - started, status, body

    async def close(self) -> None:
        await self.session.close()


@dataclass(frozen=True)
class PageToTime:
    name: str
    path: str
    what: str
    # Forget what the console keeps between requests before each one (the
    # figures page keeps its figures 2 min): the time of a first view.
    cold: bool = True
    form: Optional[Dict[str, str]] = None   # POSTed (then its redirect followed) instead of a GET


def pages_to_time(data: dict, office_id: str, number: str, key: str) -> List[PageToTime]:
    from urllib.parse import urlencode
    day, first = data["last_day"], data["first_day"]
    day_query = urlencode({"date": day, "office": office_id})
    return [
        PageToTime("day", f"/console/day?{day_query}", f"{day}, {office_id} (the busiest office)"),
        PageToTime("day_csv", f"/console/day.csv?{day_query}", f"{day}, {office_id}, masked numbers"),
        PageToTime("conversations", "/console/conversations", "default: the last 7 days"),
        PageToTime("conversations_low", "/console/conversations?low=1", "last 7 days, low confidence only"),
        # The number is POSTed (never in a URL): the time is the POST's plus
        # that of the list its 303 leads to (?who=<the sender's key>).
        PageToTime("conversations_number", "/console/conversations/search",
                   "last 7 days, search by a full number: POST /console/conversations/search "
                   "and the GET /console/conversations?who=<key> it redirects to", form={"number": number}),
        PageToTime("transcript", f"/console/conversations/{key}", "a citizen with two reminders"),
        PageToTime("figures", "/console/figures?" + urlencode({"from": first, "to": day}),
                   f"{first} to {day}, all offices, computed for each request"),
        PageToTime("figures_kept", "/console/figures?" + urlencode({"from": first, "to": day}),
                   "the same, seen again within 2 minutes (or one of its CSVs)", cold=False),
        PageToTime("nlu", "/console/nlu", "default: the last 30 days, to review"),
    ]


def choose_examples(workdir: Path, last_day: str, tz) -> Tuple[str, str, str]:
    """The busiest office of the last day, and a citizen who wrote in the
    last week and has two reminders (number as staff type it, sender)."""
    from sqlalchemy import create_engine, func, select

    from bot.reminders.records import reminders
    engine = create_engine(f"sqlite:///{workdir / 'recorda.db'}", future=True)
    with engine.connect() as conn:
        office = conn.execute(select(reminders.c.office_id).where(
            reminders.c.service_date == date.fromisoformat(last_day)).group_by(reminders.c.office_id)
            .order_by(func.count().desc())).first()[0]
        repeats = [row[0] for row in conn.execute(
            select(reminders.c.phone).where(reminders.c.phone.like("+346%"))
            .group_by(reminders.c.phone).having(func.count() >= 2)
            .order_by(func.max(reminders.c.sent_at).desc()).limit(50))]
    engine.dispose()
    week_ago = (bot.foundation.clock.now(tz) - timedelta(days=6)).timestamp()
    with contextlib.closing(sqlite3.connect(workdir / "tracker.db")) as conn:
        for phone in repeats:
            said = conn.execute("SELECT COUNT(*) FROM events WHERE sender_id = ? AND type_name = 'user' "
                                "AND timestamp >= ?", (phone, week_ago)).fetchone()[0]
            if said >= 2:
                break
        else:
            phone = repeats[0]
    national = phone[3:]
    return office, f"{national[:3]} {national[3:6]} {national[6:]}", phone


# One per row a page lists (the day view: appointments and the follow-up list).
_CONVERSATION_ROW = b'data-test="conversation"'
ROW_MARKERS = {"day": b"<tr data-appointment=", "conversations": _CONVERSATION_ROW,
               "conversations_low": _CONVERSATION_ROW, "conversations_number": _CONVERSATION_ROW,
               "nlu": b'data-test="nlu-row"'}


async def time_page(client: Client, page: PageToTime, warmup: int, repeat: int, kept: dict) -> dict:
    for _ in range(warmup):
        await client.timed(page)
    seconds, statuses, size = [], {}, 0
    for _ in range(repeat):
        if page.cold:
            kept.clear()
        elapsed, status, body = await client.timed(page)
        seconds.append(elapsed)
        statuses[status] = statuses.get(status, 0) + 1
        size = len(body)
    summary = summary_ms(seconds)
    result = {"path": page.path, "what": page.what, "p50_ms": summary["p50_ms"], "p95_ms": summary["p95_ms"],
              "max_ms": summary["max_ms"], "bytes": size, "statuses": {str(k): v for k, v in statuses.items()},
              "meets_target": summary["p95_ms"] is not None and summary["p95_ms"] < TARGET_P95_MS}
    if page.name == "day_csv":
        result["csv_rows"] = body.decode("utf-8-sig").count("\n") - 1
    marker = ROW_MARKERS.get(page.name)
    if marker:   # what the page showed: a check that it read the data
        result["rows_shown"] = body.count(marker)
    log.info("%-22s p50 %7.1f ms  p95 %7.1f ms  max %7.1f ms  %8d bytes  %s", page.name, summary["p50_ms"],
             summary["p95_ms"], summary["max_ms"], size, statuses)
    return result
