"""The provider's statuses and error codes, as reminder states and reasons a
person understands."""
import pytest

from bot.reminders import states
from bot.reminders.provider_status import reason_for_error, reason_label, state_for_status


@pytest.mark.parametrize("status,state", [
    ("accepted", states.SENT), ("pending", states.SENT), ("sent", states.SENT),
    ("transmitted", states.SENT), ("delivered", states.DELIVERED), ("read", states.READ),
    ("failed", states.FAILED), ("rejected", states.FAILED), ("delivery_failed", states.FAILED),
    ("DELIVERED", states.DELIVERED),
    # Unknown or e-mail-only statuses move nothing.
    ("clicked", None), ("pending_media", None), ("", None), (None, None),
])
def test_statuses(status, state):
    assert state_for_status(status) == state


@pytest.mark.parametrize("code,reason", [
    (302, "no_whatsapp_account"), (131026, "no_whatsapp_account"),
    (301, "not_delivered"),
    (1002, "number_does_not_exist"), (1026, "number_does_not_exist"),
    (132001, "template_rejected"), (132015, "template_rejected"),
    (429, "rate_limited"), (130429, "rate_limited"),
    (470, "outside_window"), (131047, "outside_window"),
    (99, "provider_error"), (None, "provider_error"),
])
def test_error_codes(code, reason):
    assert reason_for_error(code) == reason


def test_labels_keep_the_raw_code_of_unknown_errors():
    assert reason_label("provider_error", 99) == "provider error (code 99)"
    assert reason_label("no_whatsapp_account", 302) == "no WhatsApp account"
    assert reason_label("not_mobile") == "landline (no WhatsApp)"
