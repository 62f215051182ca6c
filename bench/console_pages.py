"""How fast the staff console's pages answer for a large town.

A town's worth of data is written in bulk (not through HTTP) into a
temporary directory, by a child process:

* Recorda's database (the reminder store's tables): `--days` (30) past
  service days of `--per-day` (600) reminders over the sandbox's three
  offices (half, 30 % and 20 % of them), each with the history the real
  system records (scheduled, sending, sent, then failed / delivered / read /
  confirmed / cancelled / expired, at their times). Each reminder's story
  comes from the sandbox's realistic citizen profile
  (bot.dev.sandbox.past_reminders), so the shares are the reference town's:
  ~13 % not reached, ~62 % of those sent answer, ~13 % cancel. A few
  landlines fail before sending; a few appointments are cancelled before
  their reminder; some citizens have several appointments.
* Rasa's tracker store (its `events` table, with Rasa's own schema and
  index): per reminder the events Rasa writes (session start, the EXTERNAL
  trigger, slots, action_send_reminder, the template), and for citizens who
  answered a button tap or a typed answer with NLU parse data; some ask
  questions (a share with low confidence), some hit the NLU fallback, ask
  for a person (flagged), or send a photo.
* The sandbox booking service's database: the same appointments, with the
  statuses their stories give (confirmed, cancelled, attended, no-show).
  The real booking service then serves it as a subprocess, so the pages
  read appointments over HTTP as they would in production.
* A few NLU reviews an editor has saved.

Then the console runs in this process (bot.apps.web.app.create_app) on a free
port; a client signs in and requests each page `--repeat` (20) times after
`--warmup` (2) unmeasured requests, one request at a time:

    day            /console/day             the last service day, busiest office
    day_csv        /console/day.csv         the same as CSV
    conversations  /console/conversations   default: the last 7 days
    conversations_low                       ... only low-confidence messages
    conversations_number                    ... search by a full number: the POST
                                            and the list its redirect leads to
    transcript     /console/conversations/<key>   a citizen with two reminders
    figures        /console/figures         every generated day, all offices
    nlu            /console/nlu             default: the last 30 days

    python -m bench.console_pages [--days 30] [--per-day 600] [--repeat 20]

Prints one JSON object on stdout; logs go to stderr. Needs no trained model.
"""
from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import logging
import multiprocessing
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterator

from bench._common import machine, run_benchmark
from bench.console_timing import TARGET_P95_MS, Client, choose_examples, pages_to_time, peak_rss_mb, rss_mb, time_page
from bench.console_town import REVIEWER, generate
from bot.dev import processes
from bot.dev.served_app import serve, shut

log = logging.getLogger("bench.console_pages")

TOKEN = "bench-booking-token"
LINK_SECRET = "b" * 64
USERNAME, PASSWORD = REVIEWER, "a long enough bench password"


@contextlib.contextmanager
def booking_service(db_path: Path, log_path: Path, timeout: float = 30.0) -> Iterator[str]:
    """The sandbox booking service on the written database; its API URL."""
    port = processes.free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, RECORDA_BOOKING_TOKEN=TOKEN, PYTHONDONTWRITEBYTECODE="1")
    cmd = [sys.executable, "-m", "bot.dev.sandbox.booking_service", "--host", "127.0.0.1", "--port", str(port),
           "--db", str(db_path), "--token", TOKEN]
    with processes.running("the booking service", cmd, url + "/sandbox/health", log_path, env, timeout,
                           stop_timeout=5):
        yield url + "/api/v1"


async def measure(args: argparse.Namespace, workdir: Path, data: dict) -> dict:
    from bot.apps.web.app import create_app
    from bot.booking.rest import RestBookingSystem
    from bot.console.accounts import Accounts
    from bot.console.conversation_keys import ConversationKeys
    from bot.dev.sandbox.booking_seed import MADRID, OFFICES
    from bot.foundation.settings import Settings

    office, number, sender = choose_examples(workdir, data["last_day"], MADRID)
    with booking_service(workdir / "booking.db", workdir / "booking.log") as booking_url:
        port = processes.free_port()
        settings = Settings(db_url=f"sqlite:///{workdir / 'recorda.db'}", booking_url=booking_url,
                            booking_token=TOKEN, rasa_url="", rasa_token="", timezone=MADRID,
                            default_region="ES", default_language="ca", offices=tuple(o["id"] for o in OFFICES),
                            link_secret=LINK_SECRET, public_url=f"http://127.0.0.1:{port}",
                            tracker_db_url=f"sqlite:///{workdir / 'tracker.db'}")
        Accounts.from_settings(settings).create_user(USERNAME, "Bench Editor", PASSWORD, "editor", "ca")
        booking = RestBookingSystem(settings.booking_url, settings.booking_token)
        app = create_app(settings, booking, name=f"console_bench_{os.getpid()}")
        server = await serve(app, port)
        rss_before = rss_mb()
        client = Client(f"http://127.0.0.1:{port}")
        try:
            await client.sign_in(USERNAME, PASSWORD)
            key = ConversationKeys(LINK_SECRET).key(sender)
            pages = {}
            for page in pages_to_time(data, office, number, key):
                if args.only and page.name not in args.only:
                    continue
                pages[page.name] = await time_page(client, page, args.warmup, args.repeat,
                                                   app.ctx.console.kept)
        finally:
            await client.close()
            await shut(server)
            await booking.close()
    return {"pages": pages, "rss_mb_before_pages": rss_before, "rss_mb_after_pages": rss_mb()}


async def run(args: argparse.Namespace) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="recorda-console-bench-"))
    try:
        log.info("Writing %d service days x %d reminders into %s", args.days, args.per_day, workdir)
        # A child process writes the data: its memory is not this one's.
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            data = await asyncio.get_running_loop().run_in_executor(
                pool, generate, str(workdir), args.days, args.per_day, args.seed, args.reviews)
        log.info("Data: %s", json.dumps(data))
        before = machine()
        measured = await measure(args, workdir, data)
    finally:
        if args.keep_data:
            log.info("Kept %s", workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    pages = measured["pages"]
    errors = sum(n for p in pages.values() for status, n in p["statuses"].items() if status != "200")
    slowest = max(pages, key=lambda name: pages[name]["p95_ms"]) if pages else None
    return {
        "benchmark": "console_pages",
        "target_p95_ms": TARGET_P95_MS,
        "meets_target": all(p["meets_target"] for p in pages.values()),
        "slowest_page": slowest,
        "errors": errors,
        "pages": pages,
        "requests_per_page": args.repeat, "warmup_per_page": args.warmup,
        "data": data,
        "booking_system": "the sandbox booking service as a subprocess, on a database written in bulk",
        "web_process_peak_rss_mb": peak_rss_mb(),
        "web_process_rss_mb": {"before_pages": measured["rss_mb_before_pages"],
                               "after_pages": measured["rss_mb_after_pages"]},
        "rss_note": "this process: the console served in-process plus the aiohttp client; the data were "
                    "written by a child process and the booking service is another process",
        "machine": before,
    }


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.console_pages", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30, help="past service days of data (30)")
    parser.add_argument("--per-day", type=int, default=600, help="appointments per service day, 3 offices (600)")
    parser.add_argument("--repeat", type=int, default=20, help="measured requests per page (20)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured requests per page first (2)")
    parser.add_argument("--reviews", type=int, default=150, help="NLU reviews already saved (150)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated town (7)")
    parser.add_argument("--only", nargs="+", metavar="PAGE", help="time only these pages (names as in the output)")
    parser.add_argument("--keep-data", action="store_true", help="keep the temporary directory with the databases")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.days < 1 or args.per_day < 10 or args.repeat < 1 or args.warmup < 0:
        parser.error("--days >= 1, --per-day >= 10, --repeat >= 1, --warmup >= 0")
    return args


def main(argv=None) -> int:
    return run_benchmark("console_pages", parse_args(argv), run, passed=lambda result: result["errors"] == 0)


if __name__ == "__main__":
    raise SystemExit(main())
