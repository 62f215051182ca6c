"""What the core needs of an SMS provider: send one message, and tell a
failure worth retrying from a final one. The SMS fallback and its outcome
notices use only this; an entry point (bot/apps/worker.py) chooses the
provider's client from connectors/."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


class ProviderError(Exception):
    """A provider refused a message or kept failing. `status` is the HTTP
    status (None: the provider could not be reached), `code` the provider's
    own error code when it gave one."""

    provider = "provider"

    def __init__(self, status: Optional[int], code: Optional[int], description: str):
        super().__init__(f"{self.provider} {status}: {description} (code {code})")
        self.status = status
        self.code = code
        self.description = description

    @property
    def retryable(self) -> bool:
        """Worth trying again later: the provider was unreachable, busy or failing."""
        return self.status is None or self.status in RETRYABLE_STATUSES


@dataclass(frozen=True)
class SentSms:
    id: str
    status: str  # the recipient's status in the provider's answer: usually "sent"


class SmsSender(Protocol):
    async def send(self, to: str, body: str, reference: Optional[str] = None,
                   validity: Optional[int] = None) -> SentSms:
        """Sends one SMS to a number; raises ProviderError. `validity`: seconds
        after which the network stops trying to deliver it."""
        ...
