"""What the simulator, playing Meta's WhatsApp Cloud API, accepts at
`POST /{version}/{phone_number_id}/messages`, checked as Meta does (text,
images by link, interactive reply buttons and lists, templates with their
body parameters and quick-reply payloads), and how it refuses: Meta's
error envelope (`CloudError`). An accepted body becomes the platform's
message content, the same as a MessageBird send's
(bot/dev/sandbox/whatsapp_messages.py), so the phone shows both alike."""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

from sanic import response

from bot.dev.sandbox.provider_api import ApiError
from bot.dev.sandbox.whatsapp_checks import REGION
from bot.foundation.phone import to_e164
from bot.messaging.templates import find_template


class CloudError(ApiError):
    """A refused request, answered with Meta's error envelope."""

    def __init__(self, status: int, code: int, message: str, details: Optional[str] = None,
                 subcode: Optional[int] = None, kind: str = "OAuthException",
                 headers: Optional[dict] = None):
        super().__init__(status, code, message, headers=headers)
        self.details, self.subcode, self.kind = details, subcode, kind

    def response(self):
        error = {"message": self.description, "type": self.kind, "code": self.code}
        if self.details:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["fbtrace_id"] = "A" + secrets.token_urlsafe(16)[:22]
        return response.json({"error": error}, status=self.status, headers=self.headers)


def whatsapp_error(status: int, code: int, title: str, details: str, **options) -> CloudError:
    """One of the WhatsApp codes, written as Meta writes them: "(#code) title"."""
    return CloudError(status, code, f"(#{code}) {title}", details, **options)


def _missing(where: str) -> CloudError:
    return whatsapp_error(400, 131008, "Required parameter is missing", f"Parameter '{where}' is required.")


def _invalid(details: str) -> CloudError:
    return whatsapp_error(400, 131009, "Parameter value is not valid", details)


def _bad_param(details: str) -> CloudError:
    return whatsapp_error(400, 100, "Invalid parameter", details)


_KINDS = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}


def _field(obj: dict, key: str, where: str, kind: type = dict, required: bool = True):
    value = obj.get(key)
    if value is None:
        if required:
            raise _missing(where)
        return None
    if not isinstance(value, kind):
        raise _bad_param(f"Param {where} must be {_KINDS[kind]}.")
    return value


def _text(obj: dict, key: str, where: str, max_len: int, required: bool = True) -> Optional[str]:
    value = _field(obj, key, where, str, required)
    if value is not None and not value.strip():
        raise _bad_param(f"Param {where} must not be empty.")
    if value is not None and len(value) > max_len:
        raise _bad_param(f"Param {where} must be at most {max_len} characters long.")
    return value


def _unique(values: list, where: str) -> None:
    if len(set(values)) != len(values):
        raise _invalid(f"{where} must be unique.")


def _objects(values: list, where: str) -> list:
    if not all(isinstance(value, dict) for value in values):
        raise _bad_param(f"Param {where} must be an array of objects.")
    return values


# ------------------------------------------------------------------ contents

def _text_message(body: dict, templates: dict) -> Tuple[str, dict]:
    text = _field(body, "text", "text")
    _field(text, "preview_url", "text.preview_url", bool, required=False)
    return "text", {"text": _text(text, "body", "text.body", 4096)}


def _image_message(body: dict, templates: dict) -> Tuple[str, dict]:
    image = _field(body, "image", "image")
    if "id" in image and "link" not in image:
        raise _invalid("The simulator takes media by link only (image.link).")
    link = _text(image, "link", "image.link", 2048)
    if not re.match(r"https?://\S+$", link):
        raise _invalid("image.link must be an http(s) URL.")
    content = {"url": link}
    caption = _text(image, "caption", "image.caption", 1024, required=False)
    if caption is not None:
        content["caption"] = caption
    return "image", {"image": content}


def _interactive_message(body: dict, templates: dict) -> Tuple[str, dict]:
    interactive = _field(body, "interactive", "interactive")
    kind = _text(interactive, "type", "interactive.type", 16)
    if kind not in ("button", "list"):
        raise _invalid("interactive.type must be one of: button, list.")
    content = {"type": kind, "body": {"text": _text(_field(interactive, "body", "interactive.body"),
                                                    "text", "interactive.body.text", 1024)}}
    footer = _field(interactive, "footer", "interactive.footer", required=False)
    if footer is not None:
        content["footer"] = {"text": _text(footer, "text", "interactive.footer.text", 60)}
    header = _field(interactive, "header", "interactive.header", required=False)
    if header is not None:
        content["header"] = _header(header, ("text",) if kind == "list" else
                                    ("text", "image", "video", "document"))
    action = _field(interactive, "action", "interactive.action")
    content["action"] = _reply_buttons(action) if kind == "button" else _list(action)
    return "interactive", {"interactive": content}


def _header(header: dict, kinds: Tuple[str, ...]) -> dict:
    kind = _text(header, "type", "interactive.header.type", 16)
    if kind not in kinds:
        raise _invalid(f"interactive.header.type must be one of: {', '.join(kinds)}.")
    if kind == "text":
        return {"type": "text", "text": _text(header, "text", "interactive.header.text", 60)}
    media = _field(header, kind, f"interactive.header.{kind}")
    return {"type": kind, kind: {"url": _text(media, "link", f"interactive.header.{kind}.link", 2048)}}


def _reply_buttons(action: dict) -> dict:
    buttons = _objects(_field(action, "buttons", "interactive.action.buttons", list),
                       "interactive.action.buttons")
    if not 1 <= len(buttons) <= 3:
        raise _invalid("An interactive message takes 1 to 3 buttons (interactive.action.buttons).")
    listed = []
    for i, button in enumerate(buttons):
        where = f"interactive.action.buttons[{i}]"
        if button.get("type") != "reply":
            raise _invalid(f'{where}.type must be "reply".')
        reply = _field(button, "reply", where + ".reply")
        listed.append({"id": _text(reply, "id", where + ".reply.id", 256), "type": "reply",
                       "title": _text(reply, "title", where + ".reply.title", 20)})
    _unique([b["id"] for b in listed], "interactive.action.buttons[].reply.id")
    _unique([b["title"] for b in listed], "interactive.action.buttons[].reply.title")
    return {"buttons": listed}


def _list(action: dict) -> dict:
    base = "interactive.action"
    button = _text(action, "button", base + ".button", 20)
    sections = _objects(_field(action, "sections", base + ".sections", list), base + ".sections")
    if not 1 <= len(sections) <= 10:
        raise _invalid("A list message takes 1 to 10 sections.")
    listed, ids = [], []
    for i, section in enumerate(sections):
        where = f"{base}.sections[{i}]"
        # WhatsApp needs titles to tell several sections apart.
        title = _text(section, "title", where + ".title", 24, required=len(sections) > 1)
        rows = []
        for j, row in enumerate(_objects(_field(section, "rows", where + ".rows", list), where + ".rows")):
            rows.append({"id": _text(row, "id", f"{where}.rows[{j}].id", 200),
                         "title": _text(row, "title", f"{where}.rows[{j}].title", 24)})
            description = _text(row, "description", f"{where}.rows[{j}].description", 72, required=False)
            if description is not None:
                rows[-1]["description"] = description
        ids += [row["id"] for row in rows]
        listed.append({**({"title": title} if title else {}), "rows": rows})
    if not 1 <= len(ids) <= 10:
        raise _invalid("A list message takes 1 to 10 rows in all.")
    _unique(ids, base + ".sections[].rows[].id")
    return {"button": button, "sections": listed}


def _template_message(body: dict, templates: dict) -> Tuple[str, dict]:
    template = _field(body, "template", "template")
    name = _text(template, "name", "template.name", 512)
    code = _text(_field(template, "language", "template.language"), "code", "template.language.code", 16)
    known = find_template(templates, name, code)
    if known is None:
        raise whatsapp_error(404, 132001, "Template name does not exist in the translation",
                             f"template name ({name}) does not exist in {code}")
    components = _objects(_field(template, "components", "template.components", list, required=False)
                          or [], "template.components")
    body_parameters, buttons = [], []
    for i, component in enumerate(components):
        where = f"template.components[{i}]"
        kind = _text(component, "type", where + ".type", 16)
        if kind == "body":
            body_parameters += _body_parameters(component, where)
        elif kind == "button":
            buttons.append(_quick_reply(component, where, len(known.buttons)))
        else:
            raise _invalid(f"{where}.type: component {kind!r} is not in template {name!r}.")
    if len(body_parameters) != known.parameter_count:
        raise whatsapp_error(400, 132000, "Number of parameters does not match the expected number of params",
                             f"body: number of localizable_params ({len(body_parameters)}) does not match "
                             f"the expected number of params ({known.parameter_count})")
    _unique([b["index"] for b in buttons], "template.components[].index")
    listed = ([{"type": "body", "parameters": body_parameters}] if body_parameters else []) + buttons
    return "hsm", {"hsm": {"templateName": name, "language": {"code": code}, "components": listed}}


def _body_parameters(component: dict, where: str) -> list:
    parameters = _objects(_field(component, "parameters", where + ".parameters", list), where + ".parameters")
    for i, parameter in enumerate(parameters):
        if parameter.get("type") != "text":
            raise whatsapp_error(400, 132012, "Parameter format does not match format in the created template",
                                 f"{where}.parameters[{i}]: body parameters must be of type text")
        _text(parameter, "text", f"{where}.parameters[{i}].text", 1024)
    return [{"type": "text", "text": p["text"]} for p in parameters]


def _quick_reply(component: dict, where: str, button_count: int) -> dict:
    if component.get("sub_type") != "quick_reply":
        raise _invalid(f'{where}.sub_type must be "quick_reply".')
    index = str(component.get("index", ""))
    if not index.isdigit() or int(index) >= button_count:
        raise _invalid(f"{where}.index must be one of 0..{button_count - 1}.")
    parameters = _objects(_field(component, "parameters", where + ".parameters", list), where + ".parameters")
    if len(parameters) != 1 or parameters[0].get("type") != "payload":
        raise _invalid(f"{where}.parameters: a quick reply takes exactly one payload parameter.")
    payload = _text(parameters[0], "payload", where + ".parameters[0].payload", 128)
    return {"type": "button", "sub_type": "quick_reply", "index": index,
            "parameters": [{"type": "payload", "payload": payload}]}


CONTENTS: Dict[str, Callable[[dict, dict], Tuple[str, dict]]] = {
    "text": _text_message, "image": _image_message, "interactive": _interactive_message,
    "template": _template_message,
}


@dataclass(frozen=True)
class CloudSend:
    """An accepted send: to whom (E.164), and the platform's message type and content."""
    recipient: str
    kind: str
    content: dict


def check_send(body: dict, templates: dict) -> CloudSend:
    """Validates a `/messages` body as the Cloud API would."""
    if "messaging_product" not in body:
        raise _missing("messaging_product")
    if body["messaging_product"] != "whatsapp":
        raise _invalid('messaging_product must be "whatsapp".')
    if body.get("recipient_type", "individual") != "individual":
        raise _invalid('recipient_type must be "individual".')
    digits = re.sub(r"[\s().-]", "", _text(body, "to", "to", 32)).lstrip("+")
    recipient = to_e164("+" + digits, REGION) if digits.isdigit() else None
    if recipient is None:
        raise _bad_param("Param to must be a phone number with its country code.")
    kind = _text(body, "type", "type", 32)
    if kind not in CONTENTS:
        raise _bad_param(f"Param type must be one of: {', '.join(CONTENTS)}.")
    return CloudSend(recipient, *CONTENTS[kind](body, templates))
