"""The settings Recorda reads from the environment that choose the WhatsApp
channel of its own messages and the per-message prices of the cost figures."""
from __future__ import annotations

import pytest

from bot.foundation.settings import WHATSAPP_CHANNELS, Settings, category_prices


def test_the_whatsapp_channel_is_messagebird_unless_told(monkeypatch):
    monkeypatch.delenv("RECORDA_WHATSAPP_CHANNEL", raising=False)
    assert Settings.from_env().whatsapp_channel == "messagebird"
    monkeypatch.setenv("RECORDA_WHATSAPP_CHANNEL", "whatsapp_cloud")
    assert Settings.from_env().whatsapp_channel == "whatsapp_cloud"
    assert WHATSAPP_CHANNELS == ("messagebird", "whatsapp_cloud")


@pytest.mark.parametrize("channel", ["telegram", "latest", "MessageBird", "whatsapp"])
def test_any_other_whatsapp_channel_stops_the_start(monkeypatch, channel):
    monkeypatch.setenv("RECORDA_WHATSAPP_CHANNEL", channel)
    with pytest.raises(ValueError, match=f"RECORDA_WHATSAPP_CHANNEL is '{channel}'; "
                                         "it must be one of messagebird, whatsapp_cloud"):
        Settings.from_env()


def test_category_prices_from_the_environment(monkeypatch):
    monkeypatch.setenv("RECORDA_WHATSAPP_CATEGORY_PRICES", "utility=0.0141, Marketing=0.0509,")
    assert Settings.from_env().whatsapp_category_prices == (("marketing", 0.0509), ("utility", 0.0141))
    monkeypatch.delenv("RECORDA_WHATSAPP_CATEGORY_PRICES")
    assert Settings.from_env().whatsapp_category_prices == ()


@pytest.mark.parametrize("text", ["utility", "utility=", "utility=cheap", "=0.01"])
def test_a_malformed_category_price_is_refused(text):
    with pytest.raises(ValueError, match="is not CATEGORY=EUR"):
        category_prices(text)
