"""The staff console in a real browser (Debian's Chromium through the
playwright package), against every Recorda process started for real: the
daily job sends tomorrow's reminders, citizens tap and write through the
WhatsApp simulator, and staff and an editor use the console as they would.

RECORDA_SCREENSHOTS=1 also saves the pages into docs/screenshots/ (the
README's pictures)."""
from __future__ import annotations

import subprocess
import sys

import pytest

import bot.foundation.clock
from bot.dev.sandbox.booking_seed import MADRID
from bot.dev.stack import Stack
from bot.foundation.settings import PROJECT_ROOT
from bot.offices.service_days import next_service_day
from bot.reminders.store import ReminderStore
from tests.support.browser import screenshot
from tests.support.http_helpers import wait_for
from tests.support.phone_helpers import appointment_id_of, citizen, reminder_of, reply, thread

pytestmark = pytest.mark.e2e
MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
PASSWORD = "vilademar-2026-oac"
USERS = {"ana": ("admin", "Ana Puig"), "joan": ("editor", "Joan Ferrer"), "marta": ("staff", "Marta Roca")}
# Messages the model cannot tell (they fall back to nlu_fallback with the
# model of this commit); the NLU review must list at least one of them.
UNSURE_MESSAGES = ("hmm", "xkq vbz plm", "i la tieta?")












class Town:
    """The running stack after tomorrow's reminders and a few answers."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.url = stack.web_url
        self.store = ReminderStore(f"sqlite:///{stack.var_dir / 'recorda.db'}")
        self.day = next_service_day(bot.foundation.clock.now(MADRID).date())

    def create_users(self) -> None:
        """Through the console's own commands, as a town's IT would."""
        for username, (role, name) in USERS.items():
            command = (["create-admin"] if role == "admin" else ["add-user", "--role", role])
            result = subprocess.run(
                [sys.executable, "-m", "bot.apps.console_admin", *command, "--username", username, "--name", name,
                 "--language", "ca", "--password-stdin"],
                input=PASSWORD + "\n", cwd=PROJECT_ROOT, env=self.stack.env(), capture_output=True,
                text=True, timeout=60)
            assert result.returncode == 0, result.stdout + result.stderr

    def send_reminders(self) -> None:
        result = subprocess.run([sys.executable, "-m", "bot.apps.reminders", "send", "--tomorrow", "--no-progress"],
                                cwd=PROJECT_ROOT, env=self.stack.env(), capture_output=True, text=True,
                                timeout=180)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    assert MODEL.exists(), "no trained model: run `make train` (make test does it)"
    stack = Stack.isolated(tmp_path_factory.mktemp("console"), status_delays="0.2,0.4,0.6")
    try:
        stack.start()
        # The past service days' history, as `make run` fills it, for the figures.
        history = stack.start_history()
        output, _ = history.communicate(timeout=120)
        assert history.returncode == 0, output
        town = Town(stack)
        town.create_users()
        town.send_reminders()
        # Montserrat cancels with a tap, María confirms with a tap, Pere writes
        # something the assistant is unsure of.
        town.cancelled = appointment_id_of(reminder_of(stack, citizen("Montserrat Puig i Ferrer")))
        reply(stack, citizen("Montserrat Puig i Ferrer"),
              button={"message_id": reminder_of(stack, citizen("Montserrat Puig i Ferrer"))["id"], "index": 1})
        town.confirmed = appointment_id_of(reminder_of(stack, citizen("María García López")))
        reply(stack, citizen("María García López"),
              button={"message_id": reminder_of(stack, citizen("María García López"))["id"], "index": 0})
        pere = citizen("Pere Martí Bosch")
        for text in UNSURE_MESSAGES:
            before = len(thread(stack, pere))
            reply(stack, pere, text=text)
            wait_for(lambda before=before: len(thread(stack, pere)) >= before + 2)  # the message and an answer
        wait_for(lambda: town.store.get(town.cancelled).state == "cancelled")
        wait_for(lambda: town.store.get(town.confirmed).state == "confirmed")
        yield town
    finally:
        stack.stop()


def signed_in(browser, town, username: str, locale: str = "ca-ES"):
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{town.url}/console/day")
    assert "/console/sign-in" in page.url
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url("**/console/day**")
    return page


def test_nothing_of_the_console_answers_without_signing_in(browser, town):
    context = browser.new_context()
    page = context.new_page()
    for path in ("/console/day", "/console/conversations", "/console/figures", "/console/nlu", "/console/users"):
        page.goto(town.url + path)
        assert "/console/sign-in" in page.url, path
        assert page.locator("#password").is_visible()
    for path in ("/console/day.csv", "/console/nlu/export.yml", "/console/figures/answers.csv"):
        response = context.request.get(town.url + path, max_redirects=0)
        assert response.status == 401, path
    response = context.request.post(town.url + "/console/reveal", form={"reference": f"appointment:{town.cancelled}"},
                                    max_redirects=0)
    assert response.status == 401
    page.fill("#username", "ana")
    page.fill("#password", "not the password")
    page.click("form.stacked button[type=submit]")
    assert page.locator("[role=alert]").is_visible() and "/console/sign-in" in page.url
    context.close()


def test_staff_see_tomorrows_day_with_the_cancellation_and_whom_to_call(browser, town):
    page = signed_in(browser, town, "marta")
    office = town.store.get(town.cancelled).office_id
    page.goto(f"{town.url}/console/day?date={town.day.isoformat()}&office={office}")
    row = page.locator(f"#appointments tr[data-appointment='{town.cancelled}']")
    assert row.locator("[data-test=answer] .badge.cancelled").is_visible()
    assert row.locator("[data-test=state] .badge.cancelled").is_visible()
    assert row.locator("[data-test=answered-at]").inner_text().strip() != ""
    assert int(page.locator("[data-test=summary-cancelled] strong").inner_text()) >= 1
    # Numbers are masked until one is shown on purpose; then it is a tap-to-call link.
    assert "•" in row.locator(".masked").inner_text()
    screenshot(page, "console-day")
    # Reveal a Spanish mobile on the list of whom to call: it becomes a tap-to-call link.
    row = page.locator("#follow-up tbody tr", has=page.locator(".masked", has_text="+34 6")).first
    appointment = row.get_attribute("data-appointment")
    row.locator("[data-test=reveal]").click()
    page.wait_for_load_state()
    revealed = page.locator(f"#follow-up tr[data-appointment='{appointment}'] [data-test=tel]")
    assert revealed.get_attribute("href").startswith("tel:+346")
    page.context.close()


def test_staff_find_the_cancelled_appointment_by_number_and_read_its_timeline(browser, town):
    page = signed_in(browser, town, "marta")
    page.click("nav >> text=Converses")
    number = citizen("Montserrat Puig i Ferrer")  # +34 6xx xxx xxx, typed as staff would
    search = page.locator("[data-test=number-search]")
    search.locator("input[name=number]").fill(f"{number[3:6]} {number[6:8]} {number[8:10]} {number[10:]}")
    search.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert number[3:] not in page.url, "the searched number stays out of the address bar"
    rows = page.locator("[data-test=conversation]")
    assert rows.count() == 1
    assert number not in page.content(), "numbers stay masked in the list"
    screenshot(page, "console-conversations")
    rows.first.locator("[data-test=open-conversation]").click()
    reminder = page.locator(f"[data-test=reminder][data-appointment='{town.cancelled}']")
    steps = reminder.locator("[data-test=step]")
    events = [steps.nth(i).get_attribute("data-event") for i in range(steps.count())]
    assert events.index("sent") < events.index("cancelled"), events
    assert "scheduled" in events
    assert all(steps.nth(i).locator("time").count() or steps.nth(i).inner_text().strip()
               for i in range(steps.count()))
    # The tap on the reminder's cancel button, as the citizen saw it.
    assert page.locator("[data-test=tap]").first.is_visible()
    assert page.locator("[data-test=template]").first.is_visible()
    assert number not in page.content()
    screenshot(page, "console-transcript")
    page.context.close()


def test_an_editor_relabels_an_unsure_message_and_downloads_the_training_data(browser, town):
    page = signed_in(browser, town, "joan")
    page.click("nav >> text=Revisió NLU")
    texts = page.locator("[data-test=nlu-text]").all_inner_texts()
    unsure = [text for text in texts if text in UNSURE_MESSAGES]
    assert unsure, texts
    row = page.locator("[data-test=nlu-row]", has=page.locator("[data-test=nlu-text]", has_text=unsure[0]))
    row.locator("[data-test=nlu-label]").select_option("reschedule_appointment")
    row.locator("[data-test=nlu-save]").click()
    assert page.locator("[data-test=nlu-saved]").is_visible()
    screenshot(page, "console-nlu-review")
    with page.expect_download() as download:
        page.click("[data-test=nlu-export-download]")
    exported = open(download.value.path(), encoding="utf-8").read()
    block = exported[exported.index("- intent: reschedule_appointment"):]
    assert unsure[0] in block.split("- intent:")[1]
    page.context.close()


def test_staff_cannot_open_the_editors_and_admins_pages(browser, town):
    page = signed_in(browser, town, "marta")
    assert page.locator("nav >> text=Revisió NLU").count() == 0
    for path in ("/console/nlu", "/console/users"):
        response = page.goto(town.url + path)
        assert response.status == 403, path
    page.context.close()


def test_the_figures_draw_their_charts_without_internet(browser, town):
    page = signed_in(browser, town, "ana")
    outside = []
    page.on("request", lambda request: outside.append(request.url)
            if not request.url.startswith((town.url, "data:")) else None)
    page.goto(f"{town.url}/console/figures")
    page.wait_for_function("window.Chart && Object.keys(window.Chart.instances).length >= 5")
    assert page.locator("[data-test=figures-section] table").count() >= 5
    # The sandbox's past days: most reminders answered, some failed.
    answer_rate = page.locator("[data-test=headline]").nth(1).locator("strong").inner_text()
    assert answer_rate.endswith("%") and 40 <= float(answer_rate.split()[0].replace(",", ".")) <= 90
    assert outside == []
    screenshot(page, "console-figures")
    page.goto(f"{town.url}/console/users")
    screenshot(page, "console-users")
    page.context.close()
