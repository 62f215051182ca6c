"""A Redis lock store whose tickets are issued and returned atomically, for
several Rasa processes sharing one WhatsApp number.

Rasa keeps one "ticket lock" per conversation so that a citizen's messages
are handled one at a time and in order. Its RedisLockStore changes that lock
by reading the JSON blob, changing it in Python and writing it back: two Rasa
processes that take a ticket for the same citizen at the same moment can
both read the same lock and one overwrites the other's ticket, so two
messages run at once or one waits for a ticket that no longer exists (Rasa
issue #9213; the fix is only in Rasa Pro). Here every change is a Redis
transaction on that key (WATCH, read, MULTI, write, EXEC, retried when
another process changed the key in between), so no change is lost.

    lock_store:
      type: bot.rasa_plugins.redis_lock_store.AtomicRedisLockStore
      url: "redis-host"
      port: 6379

It takes the same settings as Rasa's RedisLockStore and stores the same
JSON, so processes can be switched over one at a time.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Callable, Optional, Text, Tuple, TypeVar, Union

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
T = TypeVar("T")
DELETE = "delete"  # a change's verdict: remove the lock
# What a change makes of the lock: the lock to write, DELETE, or None to leave it.
Outcome = Union[TicketLock, str, None]


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: Any = None, **settings: Any) -> None:
        # Rasa 3.6 makes a lock store named by its module path (endpoints.yml)
        # with `endpoint_config=` alone; tests pass RedisLockStore's settings.
        if endpoint_config is not None:
            settings = {"host": endpoint_config.url, **endpoint_config.kwargs}
        super().__init__(**settings)

    def _change(self, conversation_id: Text,
                change: Callable[[Optional[TicketLock]], Tuple[Outcome, T]]) -> T:
        """Applies `change` to the stored lock in one Redis transaction,
        retried (by redis-py) until no other process touched the key meanwhile."""
        key = self.key_prefix + conversation_id

        def transaction(pipe) -> T:
            raw = pipe.get(key)  # immediate: the key is being watched
            lock = TicketLock.from_dict(json.loads(raw)) if raw else None
            outcome, value = change(lock)
            pipe.multi()
            if outcome == DELETE:
                pipe.delete(key)
            elif isinstance(outcome, TicketLock):
                pipe.set(key, outcome.dumps())
            return value

        return self.red.transaction(transaction, key, value_from_callable=True)

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def take(lock: Optional[TicketLock]) -> Tuple[Outcome, int]:
            lock = lock or self.create_lock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, take)
        except Exception as exc:  # as Rasa's own: the message fails, the caller logs it
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def update_lock(self, conversation_id: Text) -> None:
        def expire(lock: Optional[TicketLock]) -> Tuple[Outcome, None]:
            if lock is None:
                return None, None
            lock.remove_expired_tickets()
            return lock, None

        self._change(conversation_id, expire)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        def give_back(lock: Optional[TicketLock]) -> Tuple[Outcome, None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return lock, None

        self._change(conversation_id, give_back)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Returns the ticket and removes the lock if no one else waits: one
        transaction, so a ticket issued in between is never deleted with it.

        Rasa calls it after the turn, whatever happened. Redis unreachable
        then (restarted, a failover) must not fail a turn that is done: the
        channel would answer 500, the provider redeliver, and the citizen's
        message be handled twice. The ticket expires with its lifetime
        instead (or went with the restarted Redis's memory)."""
        def give_back(lock: Optional[TicketLock]) -> Tuple[Outcome, None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return (lock if lock.is_someone_waiting() else DELETE), None

        try:
            self._change(conversation_id, give_back)
        except RedisError as exc:
            log.warning("Could not return ticket %s of a conversation to Redis (%s); it expires by itself",
                        ticket_number, exc)
