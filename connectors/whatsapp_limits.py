"""WhatsApp's own limits on interactive messages, the same whichever
provider carries them (docs/architecture.md, "Facts about the platforms"),
and the shortening that keeps a title within one."""
from __future__ import annotations

MAX_REPLY_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_BUTTON_ID = 256
MAX_LIST_ROWS = 10
MAX_ROW_ID = 200
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_INTERACTIVE_BODY = 1024
LIST_BUTTON_LABEL = "☰"


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut with "…" to at most `limit` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
