"""What the WhatsApp simulator accepts, checked as the platform would: the
body of a `POST /v1/send` (each content type, interactive messages,
templates and their parameters), a phone number, and what the citizen's
phone sends (text, a tap on a received message, media). A refusal is a 422
(or 404/409) in MessageBird's error envelope (bot/dev/sandbox/provider_api.py)."""
from __future__ import annotations

import re
from typing import Callable, Dict, Optional, Tuple

from bot.dev.sandbox.provider_api import ApiError
from bot.dev.sandbox.provider_api import field as _field
from bot.dev.sandbox.provider_api import invalid as _invalid
from bot.dev.sandbox.provider_api import text as _text
from bot.dev.sandbox.whatsapp_messages import choices, media_content
from bot.foundation.phone import to_e164
from bot.messaging.templates import find_template

REGION = "ES"  # of the numbers written without a country code


def _object(value, parameter: str) -> dict:
    if not isinstance(value, dict):
        raise _invalid(parameter, f"{parameter} must be an object")
    return value


def _url(obj: dict, key: str, parameter: str, required: bool = True) -> None:
    value = _text(obj, key, parameter, 2048, required)
    if value is not None and not re.match(r"https?://\S+$", value):
        raise _invalid(parameter, f"{parameter} must be an http(s) URL")


def _unique(values: list, parameter: str) -> None:
    if len(set(values)) != len(values):
        raise _invalid(parameter, f"{parameter} must be unique")


def _check_text(content: dict, templates: dict) -> None:
    _text(content, "text", "content.text", 4096)


def _check_image(content: dict, templates: dict) -> None:
    image = _field(content, "image", "content.image")
    _url(image, "url", "content.image.url")
    _text(image, "caption", "content.image.caption", 1024, required=False)


def _check_interactive(content: dict, templates: dict) -> None:
    base = "content.interactive"
    interactive = _field(content, "interactive", base)
    kind = _text(interactive, "type", base + ".type")
    checks = {"button": _check_reply_buttons, "list": _check_list}
    if kind not in checks:
        raise _invalid(base + ".type", f"{base}.type must be one of: {', '.join(checks)}")
    _text(_field(interactive, "body", base + ".body"), "text", base + ".body.text", 1024)
    footer = _field(interactive, "footer", base + ".footer", required=False)
    if footer is not None:
        _text(footer, "text", base + ".footer.text", 60)
    checks[kind](interactive, _field(interactive, "action", base + ".action"))


def _check_reply_buttons(interactive: dict, action: dict) -> None:
    base = "content.interactive"
    header = _field(interactive, "header", base + ".header", required=False)
    if header is not None:
        kind = _text(header, "type", base + ".header.type")
        if kind not in ("text", "image", "video", "document"):
            raise _invalid(base + ".header.type", "header type must be text, image, video or document")
        if kind == "text":
            _text(header, "text", base + ".header.text", 60)
    buttons = _field(action, "buttons", base + ".action.buttons", list)
    if not 1 <= len(buttons) <= 3:
        raise _invalid(base + ".action.buttons", "an interactive message takes 1 to 3 buttons")
    for i, button in enumerate(buttons):
        where = f"{base}.action.buttons[{i}]"
        button = _object(button, where)
        _text(button, "id", where + ".id", 256)
        _text(button, "title", where + ".title", 20)
        if button.get("type") != "reply":
            raise _invalid(where + ".type", f'{where}.type must be "reply"')
    _unique([b["id"] for b in buttons], base + ".action.buttons[].id")
    _unique([b["title"] for b in buttons], base + ".action.buttons[].title")


def _check_list(interactive: dict, action: dict) -> None:
    base = "content.interactive.action"
    _text(action, "button", base + ".button", 20)
    sections = _field(action, "sections", base + ".sections", list)
    if not 1 <= len(sections) <= 10:
        raise _invalid(base + ".sections", "a list message takes 1 to 10 sections")
    ids = []
    for i, section in enumerate(sections):
        where = f"{base}.sections[{i}]"
        section = _object(section, where)
        # WhatsApp needs titles to tell several sections apart.
        _text(section, "title", where + ".title", 24, required=len(sections) > 1)
        rows = _field(section, "rows", where + ".rows", list)
        for j, row in enumerate(rows):
            row = _object(row, f"{where}.rows[{j}]")
            ids.append(_text(row, "id", f"{where}.rows[{j}].id", 200))
            _text(row, "title", f"{where}.rows[{j}].title", 24)
            _text(row, "description", f"{where}.rows[{j}].description", 72, required=False)
    if not 1 <= len(ids) <= 10:
        raise _invalid(base + ".sections", "a list message takes 1 to 10 rows in all")
    _unique(ids, base + ".sections[].rows[].id")


def _check_hsm(content: dict, templates: dict) -> None:
    base = "content.hsm"
    hsm = _field(content, "hsm", base)
    _text(hsm, "namespace", base + ".namespace", 256)
    name = _text(hsm, "templateName", base + ".templateName", 512)
    code = _text(_field(hsm, "language", base + ".language"), "code", base + ".language.code", 16)
    template = find_template(templates, name, code)
    if template is None:
        raise _invalid(base + ".templateName", f"template {name!r} does not exist in language {code!r}")
    components = _field(hsm, "components", base + ".components", list, required=False) or []
    body_parameters, button_indexes = [], []
    for i, component in enumerate(components):
        where = f"{base}.components[{i}]"
        component = _object(component, where)
        kind = _text(component, "type", where + ".type")
        if kind == "body":
            body_parameters += _body_parameters(component, where)
        elif kind == "button":
            button_indexes.append(_quick_reply_index(component, where, len(template.buttons)))
        else:
            raise _invalid(where + ".type", f"component type {kind!r} is not in this template")
    if len(body_parameters) != template.parameter_count:
        raise _invalid(base + ".components", f"template {name!r} takes {template.parameter_count} "
                                             f"body parameters, got {len(body_parameters)}")
    _unique(button_indexes, base + ".components[].index")


def _body_parameters(component: dict, where: str) -> list:
    parameters = _field(component, "parameters", where + ".parameters", list)
    for i, parameter in enumerate(parameters):
        parameter = _object(parameter, f"{where}.parameters[{i}]")
        if parameter.get("type") != "text":
            raise _invalid(f"{where}.parameters[{i}].type", 'body parameters must be of type "text"')
        _text(parameter, "text", f"{where}.parameters[{i}].text", 1024)
    return parameters


def _quick_reply_index(component: dict, where: str, button_count: int) -> int:
    if component.get("sub_type") != "quick_reply":
        raise _invalid(where + ".sub_type", 'button components must have sub_type "quick_reply"')
    index = str(component.get("index", ""))
    if not index.isdigit() or int(index) >= button_count:
        raise _invalid(where + ".index", f"index must be one of 0..{button_count - 1}")
    parameters = _field(component, "parameters", where + ".parameters", list)
    if len(parameters) != 1 or _object(parameters[0], where + ".parameters[0]").get("type") != "payload":
        raise _invalid(where + ".parameters", "a quick reply takes exactly one payload parameter")
    _text(parameters[0], "payload", where + ".parameters[0].payload")
    return int(index)


CONTENT_CHECKS: Dict[str, Callable[[dict, dict], None]] = {
    "text": _check_text, "interactive": _check_interactive, "hsm": _check_hsm, "image": _check_image,
}


def check_send(body: dict, channel_id: str, templates: dict) -> str:
    """Validates a /v1/send body as the platform would; returns the recipient in E.164."""
    if _text(body, "from", "from") != channel_id:
        raise _invalid("from", "from must be the id of one of your channels")
    recipient = to_e164(_text(body, "to", "to", 32), REGION)
    if recipient is None:
        raise _invalid("to", "to is not a valid phone number")
    kind = _text(body, "type", "type")
    if kind not in CONTENT_CHECKS:
        raise _invalid("type", f"type must be one of: {', '.join(CONTENT_CHECKS)}")
    CONTENT_CHECKS[kind](_field(body, "content", "content"), templates)
    _url(body, "reportUrl", "reportUrl", required=False)
    return recipient


def msisdn_of(value, parameter: str = "msisdn") -> str:
    """A phone number of a request, in E.164."""
    number = to_e164(value, REGION) if isinstance(value, (str, int)) else None
    if number is None:
        raise _invalid(parameter, f"{parameter} is not a valid phone number")
    return number


def inbound(body: dict, msisdn: str, messages: Dict[str, dict],
            templates: dict) -> Tuple[str, dict, Optional[str]]:
    """(type, content, replyTo id) of what the citizen's phone sends; a tap
    is on one of `messages` (the platform's, by id)."""
    given = [key for key in ("text", "button", "media") if key in body]
    if len(given) != 1:
        raise _invalid(None, "give exactly one of text, button, media")
    if given == ["text"]:
        return "text", {"text": _text(body, "text", "text", 4096)}, None
    if given == ["media"]:
        return (*media_content(_text(body, "media", "media")), None)
    return _tap(_field(body, "button", "button"), msisdn, messages, templates)


def _tap(button: dict, msisdn: str, messages: Dict[str, dict], templates: dict) -> Tuple[str, dict, str]:
    message = messages.get(_text(button, "message_id", "button.message_id"))
    if message is None or message["direction"] != "sent" or message["to"] != msisdn:
        raise ApiError(404, 20, "this citizen received no such message", "button.message_id")
    if message["status"] == "failed":
        raise ApiError(409, 10, "this message never reached the phone", "button.message_id")
    listed = choices(message, templates)
    index = _field(button, "index", "button.index", int)
    if not 0 <= index < len(listed):
        raise _invalid("button.index", f"the message has {len(listed)} buttons")
    return listed[index].reply_type, listed[index].reply_content, message["id"]
