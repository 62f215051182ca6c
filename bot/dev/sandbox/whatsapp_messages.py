"""What a WhatsApp message is in the simulator (bot/dev/sandbox/whatsapp_app.py):
its id and timestamps, its template filled in, what a citizen can tap under
it and the reply a tap sends, and the media a phone sends."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timezone
from typing import List, Optional, Tuple

import bot.foundation.clock
from bot.dev.sandbox.provider_api import invalid
from bot.messaging.templates import TemplateText, find_template

MEDIA_URL = "https://media.messagebird.com/v1/media/{}"
SAMPLE_LOCATION = {"latitude": 41.3825, "longitude": 2.1769}  # Plaça de Sant Jaume


def now_stamp() -> str:
    """Now, as the platform writes its times."""
    return bot.foundation.clock.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id() -> str:
    return uuid.uuid4().hex


def _hsm_template(hsm: dict, templates: dict) -> TemplateText:
    return find_template(templates, hsm["templateName"], hsm["language"]["code"])


def render_hsm(hsm: dict, templates: dict) -> str:
    """The template body with the message's parameters filled in."""
    parameters = [p["text"] for c in hsm.get("components", []) if c["type"] == "body"
                  for p in c["parameters"]]
    return _hsm_template(hsm, templates).render(parameters)


@dataclass(frozen=True)
class Choice:
    """Something tappable under a received message, and the reply a tap sends."""
    title: str
    description: Optional[str]
    reply_type: str
    reply_content: dict


def choices(message: dict, templates: dict) -> List[Choice]:
    kind, content = message["type"], message["content"]
    if kind == "interactive" and content["interactive"]["type"] == "button":
        return _button_choices(content["interactive"]["action"]["buttons"])
    if kind == "interactive":
        return _list_choices(content["interactive"]["action"]["sections"])
    if kind == "hsm":
        return _quick_reply_choices(content["hsm"], templates)
    return []


def _button_choices(buttons: list) -> List[Choice]:
    return [Choice(b["title"], None, "interactive", {"interactive": {
        "type": "button_reply", "reply": {"id": b["id"], "text": b["title"]}}}) for b in buttons]


def _list_choices(sections: list) -> List[Choice]:
    listed = []
    for row in (row for section in sections for row in section["rows"]):
        reply = {"id": row["id"], "text": row["title"]}
        if row.get("description"):
            reply["description"] = row["description"]
        listed.append(Choice(row["title"], row.get("description"), "interactive",
                             {"interactive": {"type": "list_reply", "reply": reply}}))
    return listed


def _quick_reply_choices(hsm: dict, templates: dict) -> List[Choice]:
    payloads = {int(c["index"]): c["parameters"][0]["payload"]
                for c in hsm.get("components", []) if c["type"] == "button"}
    # Without a payload from the sender, WhatsApp reports the button's title.
    return [Choice(title, None, "button", {"button": {"text": title, "payload": payloads.get(i, title)}})
            for i, title in enumerate(_hsm_template(hsm, templates).buttons)]


def media_content(kind: str) -> Tuple[str, dict]:
    """(message type, content) of a photo, voice note, location or sticker from the phone."""
    url = MEDIA_URL.format(new_id())
    contents = {
        "image": ("image", {"image": {"url": url}}),
        "audio": ("audio", {"audio": {"url": url}}),
        "location": ("location", {"location": dict(SAMPLE_LOCATION)}),
        "sticker": ("whatsappSticker", {"whatsappSticker": {"link": url}}),
    }
    if kind not in contents:
        raise invalid("media", f"media must be one of: {', '.join(contents)}")
    return contents[kind]

