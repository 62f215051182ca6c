"""What the WhatsApp simulator asks of the provider it plays: the edge that
differs between MessageBird's Conversations API
(bot/dev/sandbox/messagebird_api.py) and Meta's Cloud API
(bot/dev/sandbox/cloud_api.py). The state behind it (contacts, messages,
their delivery, the citizen's phone) is one and the same
(bot/dev/sandbox/whatsapp_platform.py), so are the simulator's own `/sim/`
API and phone page."""
from __future__ import annotations

from typing import Callable, Dict, List, Protocol, Tuple

from bot.dev.sandbox.provider_api import ApiError

Route = Tuple[Callable, str, str]  # (handler, uri, method)


class ProviderEdge(Protocol):
    name: str        # "messagebird" | "whatsapp_cloud"
    channel_id: str  # the business's side of every message

    def routes(self) -> List[Route]:
        """The provider's send endpoint(s); handlers find the simulator in
        `request.app.ctx.sim` and this edge in `sim.edge`."""

    def new_message_id(self) -> str:
        """The id of a new message, as this provider writes them."""

    def webhook_body(self, kind: str, message: dict, contact) -> dict:
        """The webhook about `message` ("message.created": the citizen wrote;
        "message.updated": its status moved); `contact` is a platform Contact."""

    def webhook_headers(self, url: str, body: bytes) -> Dict[str, str]:
        """The headers of one delivery of `body` to `url`, its signature among them."""

    def fault(self, status: int) -> ApiError:
        """The error an armed fault (429, 500 or 503) answers a send with."""

    def http_error(self, status: int, description: str) -> ApiError:
        """An unknown path or method, in the provider's error shape."""
