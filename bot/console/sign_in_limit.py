"""Failed sign-ins per client address, so that one machine cannot try
passwords against every username (the per-account lockout in accounts.py
stops guessing one account, not a sweep across many).

In memory, per web process: a restart forgets, and several web instances
each count their own (enough to slow a sweep down by orders of magnitude).
Behind a reverse proxy set RECORDA_PROXIES_COUNT so that the address is the
client's, not the proxy's (Sanic's PROXIES_COUNT, X-Forwarded-For).
"""
from __future__ import annotations

import time
from collections import OrderedDict, deque
from typing import Callable, Deque


class SignInLimit:
    def __init__(self, max_failures: int = 20, window_seconds: float = 15 * 60,
                 max_clients: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.max_failures, self.window, self.max_clients, self.clock = (
            max_failures, window_seconds, max_clients, clock)
        self._failures: "OrderedDict[str, Deque[float]]" = OrderedDict()

    def wait_seconds(self, client: str) -> float:
        """0 if this client may try a password now, else how long to wait."""
        failures = self._recent(client)
        if self.max_failures <= 0 or len(failures) < self.max_failures:
            return 0.0
        return max(0.0, failures[0] + self.window - self.clock())

    def failed(self, client: str) -> None:
        failures = self._recent(client)
        failures.append(self.clock())
        self._failures.move_to_end(client)
        while len(self._failures) > self.max_clients:  # bounded memory under a flood
            self._failures.popitem(last=False)

    def _recent(self, client: str) -> Deque[float]:
        failures = self._failures.setdefault(client, deque())
        cutoff = self.clock() - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures
