"""The citizen's pages as HTML: small, mobile first, no JavaScript, nothing
from another site. Every value is escaped; the texts come from
texts/sms_fallback.yml through a `Texts` of the citizen's language."""
from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import List

from bot.booking import BOOKED, CANCELLED, CONFIRMED
from bot.citizens.texts import Texts


@dataclass(frozen=True)
class AppointmentView:
    details: bool                # False: the booking system could not say
    when: str = ""
    status: str = ""
    past: bool = False
    procedure: str = ""
    documents_url: str = ""
    office: str = ""
    address: str = ""
    map_url: str = ""
    booking_url: str = ""


def _e(value: str) -> str:
    return escape(str(value), quote=True)


def _layout(t: Texts, title: str, body: str, base: str) -> str:
    return (
        "<!doctype html>\n"
        f'<html lang="{_e(t.language)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        f"<title>{_e(title)}</title>\n"
        f'<link rel="stylesheet" href="{_e(base)}/static/citizen.css">\n</head>\n<body>\n'
        f'<main class="card">\n{body}\n</main>\n'
        f'<footer>{_e(t("footer"))}</footer>\n</body>\n</html>\n')


def _link(url: str, label: str, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f'<a{cls} href="{_e(url)}" rel="noopener noreferrer" target="_blank">{_e(label)}</a>'


def _form(t: Texts, token: str, form_token: str, operation: str, base: str) -> str:
    label = t("button_confirm" if operation == "confirm" else "button_cancel")
    return (f'<form method="post" action="{_e(base)}/c/{_e(token)}/{operation}">'
            f'<input type="hidden" name="form" value="{_e(form_token)}">'
            f'<button type="submit" class="button {operation}">{_e(label)}</button></form>')


def appointment_page(t: Texts, view: AppointmentView, token: str, form_token: str, base: str = "") -> str:
    parts: List[str] = [f"<h1>{_e(t('heading'))}</h1>"]
    if view.details:
        rows = [f"<dt>{_e(t('label_when'))}</dt><dd><strong>{_e(view.when)}</strong></dd>"]
        if view.procedure:
            docs = f"<br>{_link(view.documents_url, t('documents_link'))}" if view.documents_url else ""
            rows.append(f"<dt>{_e(t('label_procedure'))}</dt><dd>{_e(view.procedure)}{docs}</dd>")
        if view.office:
            where = f"{_e(view.office)}<br>{_e(view.address)}"
            if view.map_url:
                where += f"<br>{_link(view.map_url, t('map_link'))}"
            rows.append(f"<dt>{_e(t('label_place'))}</dt><dd>{where}</dd>")
        parts.append("<dl>" + "".join(rows) + "</dl>")
    else:
        parts.append(f'<p class="note">{_e(t("details_unavailable"))}</p>')

    operations: List[str] = []
    if not view.details or (view.status == BOOKED and not view.past):
        parts.append(f'<p class="intro">{_e(t("intro"))}</p>')
        operations = ["confirm", "cancel"]
    elif view.status == CONFIRMED and not view.past:
        parts.append(f'<p class="note ok">{_e(t("status_confirmed"))}</p>')
        operations = ["cancel"]
    elif view.status == CANCELLED:
        parts.append(f'<p class="note">{_e(t("status_cancelled"))}</p>')
        if view.booking_url:
            parts.append(f"<p>{_link(view.booking_url, t('new_appointment'), 'button secondary')}</p>")
    else:
        parts.append(f'<p class="note">{_e(t("status_past"))}</p>')
    if operations:
        parts.append('<div class="actions">' +
                     "".join(_form(t, token, form_token, op, base) for op in operations) + "</div>")
        parts.append(f'<p class="small">{_e(t("single_use"))}</p>')
    return _layout(t, t("page_title"), "\n".join(parts), base)


_RESULT_KEYS = {
    ("done", "confirm"): "done_confirm", ("done", "cancel"): "done_cancel",
    ("already", "confirm"): "already_confirm", ("already", "cancel"): "already_cancel",
}


def result_page(t: Texts, kind: str, operation: str, base: str = "", when: str = "",
                phone: str = "", booking_url: str = "", refusal_code: str = "") -> str:
    """What an answer came to: done, already, queued, refused or error."""
    if (kind, operation) in _RESULT_KEYS:
        key, css = _RESULT_KEYS[(kind, operation)], "ok"
    elif kind == "queued":
        key, css = "queued", "wait"
    elif kind == "refused":
        key, css = {"not_cancellable": "refused_not_cancellable",
                    "not_confirmable": "refused_not_confirmable"}.get(refusal_code, "refused_other"), "bad"
    else:
        key, css = "try_later", "bad"
    parts = [f"<h1>{_e(t('heading'))}</h1>", f'<p class="note {css}">{_e(t(key, when=when))}</p>']
    if kind in ("refused", "error") and phone:
        parts.append(f"<p>{_e(t('call_office', phone=phone))}</p>")
    if booking_url:
        parts.append(f"<p>{_link(booking_url, t('new_appointment'), 'button secondary')}</p>")
    return _layout(t, t("page_title"), "\n".join(parts), base)


def refusal_page(t: Texts, reason: str, base: str = "") -> str:
    body = (f"<h1>{_e(t('refusal_title'))}</h1>"
            f'<p class="note bad">{_e(t("refusal_" + reason))}</p>')
    return _layout(t, t("refusal_title"), body, base)


def message_page(t: Texts, key: str, base: str = "") -> str:
    body = f"<h1>{_e(t('heading'))}</h1><p class=\"note bad\">{_e(t(key))}</p>"
    return _layout(t, t("page_title"), body, base)
