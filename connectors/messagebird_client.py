"""Asynchronous client for the MessageBird Conversations API `POST /send`.

Retries (429, 5xx, network) and the error envelope are shared with the SMS
client: see `connectors.messagebird_http`.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from connectors.messagebird_http import MessageBirdError, MessageBirdHttp

__all__ = ["MessageBirdClient", "MessageBirdError"]


class MessageBirdClient(MessageBirdHttp):
    user_agent = "Recorda (Rasa MessageBird connector)"

    def __init__(self, api_url: str, access_key: str, channel_id: str, timeout: float = 15.0,
                 max_attempts: int = 5, backoff_base: float = 0.5, backoff_cap: float = 8.0):
        super().__init__(api_url, access_key, timeout, max_attempts, backoff_base, backoff_cap)
        self.channel_id = channel_id

    async def send(self, to: str, message_type: str, content: Dict[str, Any],
                   report_url: Optional[str] = None) -> str:
        """Sends one message; returns the provider's message id."""
        body: Dict[str, Any] = {"to": to, "from": self.channel_id, "type": message_type,
                                "content": content}
        if report_url:
            body["reportUrl"] = report_url
        payload = await self.post_json("/send", body, message_type, to)
        return str(payload.get("id") or payload.get("message", {}).get("id"))
