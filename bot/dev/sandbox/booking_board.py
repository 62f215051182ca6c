"""The sandbox booking service's board for demos: `GET /`, appointments per
office for today and the next service days, polled every 2 s through `GET
/sandbox/board` so that a confirmation or a cancellation shows at once."""
from __future__ import annotations

from datetime import date, datetime, timezone
from html import escape
from typing import Optional

from sanic import response

from bot.dev.sandbox.booking_seed import MADRID, is_service_day, next_service_day, service_days_after
from bot.dev.sandbox.booking_store import Store

BOARD_SERVICE_DAYS = 5  # days shown on the board after today


async def board_page(request):
    return response.html(PAGE.replace("<!--board-->", render_board(request.app.ctx)))


async def board_fragment(request):
    return response.html(render_board(request.app.ctx), headers={"Cache-Control": "no-store"})


def _time_of(naive_utc: Optional[datetime], today: date) -> str:
    if naive_utc is None:
        return ""
    local = naive_utc.replace(tzinfo=timezone.utc).astimezone(MADRID)
    return local.strftime("%H:%M:%S" if local.date() == today else "%d/%m %H:%M")


def _row_html(row, today: date) -> str:
    stamps = [f"{label} {_time_of(value, today)}" for label, value in
              (("confirmed", row.confirmed_at), ("cancelled", row.cancelled_at),
               ("attended", row.attended_at)) if value]
    return (f'<tr id="{escape(row.id)}" data-status="{row.status}" class="{row.status}">'
            f"<td>{row.starts_at:%H:%M}</td><td>{escape(row.id)}</td>"
            f"<td>{escape(row.citizen_name)}</td><td>{escape(row.phone) or '—'}</td>"
            f"<td>{row.language}</td><td>{escape(row.procedure_name.get('ca', ''))}</td>"
            f'<td><span class="badge">{row.status}</span></td><td>{", ".join(stamps)}</td></tr>')


def _office_html(office, rows, today: date) -> str:
    header = f"<h3>{escape(office.name)} <small>{escape(office.address)}</small></h3>"
    if not rows:
        return header + '<p class="empty">No appointments.</p>'
    body = "".join(_row_html(r, today) for r in rows)
    return (header + "<table><thead><tr><th>Time</th><th>Id</th><th>Citizen</th><th>Phone</th>"
            "<th>Lang</th><th>Procedure</th><th>Status</th><th>Timestamps</th></tr></thead>"
            f"<tbody>{body}</tbody></table>")


def _day_html(day: date, today: date, office_rows, rows) -> str:
    label = "today" if day == today else ("next service day" if day == next_service_day(today) else "")
    offices_html = "".join(
        _office_html(o, [r for r in rows if r.office_id == o.id and r.starts_at.date() == day], today)
        for o in office_rows)
    return f"<section><h2>{day:%A} {day.day} {day:%B %Y} <small>{label}</small></h2>{offices_html}</section>"


def render_board(ctx) -> str:
    """Today (when offices open) and the next service days, per office."""
    store: Store = ctx.store
    now = store.now().astimezone(MADRID)
    today = now.date()
    days = ([today] if is_service_day(today) else []) + service_days_after(today, BOARD_SERVICE_DAYS)
    rows, office_rows = store.board_rows(days), store.office_rows()
    outage = '<p class="down">Outage simulated: the API answers 503.</p>' if ctx.down else ""
    return (f'<p class="updated">Updated {now:%H:%M:%S}</p>{outage}'
            + "".join(_day_html(day, today, office_rows, rows) for day in days))


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Vilademar booking sandbox</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 small, h2 small, h3 small { color: #777; font-weight: normal; font-size: 0.8em; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1rem; font-size: 0.9rem; table-layout: fixed; }
th, td { text-align: left; padding: 0.25rem 0.5rem; border-bottom: 1px solid #ddd; overflow: hidden; }
/* Same column widths in every table, so the days line up. */
th:nth-child(1) { width: 3.5rem; } th:nth-child(2) { width: 9rem; } th:nth-child(3) { width: 12rem; }
th:nth-child(4) { width: 8.5rem; } th:nth-child(5) { width: 2.5rem; } th:nth-child(7) { width: 6rem; }
th:nth-child(8) { width: 11rem; }
.badge { padding: 0.1rem 0.4rem; border-radius: 0.3rem; background: #eee; }
tr.confirmed { background: #e3f6e5; } tr.confirmed .badge { background: #2e7d32; color: #fff; }
tr.cancelled { background: #fde8e8; } tr.cancelled td:nth-child(-n+6) { text-decoration: line-through; }
tr.cancelled .badge { background: #c62828; color: #fff; }
tr.attended .badge { background: #1565c0; color: #fff; } tr.no_show .badge { background: #6d4c41; color: #fff; }
tr.changed { animation: flash 1.5s ease-out; }
@keyframes flash { from { background: #fff176; } }
.down { background: #c62828; color: #fff; padding: 0.5rem; }
.updated, .empty { color: #777; }
</style></head>
<body>
<h1>Ajuntament de Vilademar <small>booking sandbox: appointments per office</small></h1>
<div id="board"><!--board--></div>
<script>
// Polls the board and flashes the rows whose status changed since the last poll.
const seen = new Map();
function markChanges() {
  document.querySelectorAll("tr[data-status]").forEach(function (row) {
    if (seen.has(row.id) && seen.get(row.id) !== row.dataset.status) row.classList.add("changed");
    seen.set(row.id, row.dataset.status);
  });
}
async function refresh() {
  try {
    const res = await fetch("/sandbox/board", {cache: "no-store"});
    if (res.ok) { document.getElementById("board").innerHTML = await res.text(); markChanges(); }
  } catch (e) { /* the service is restarting: try again at the next tick */ }
}
markChanges();
setInterval(refresh, 2000);
</script>
</body></html>
"""
