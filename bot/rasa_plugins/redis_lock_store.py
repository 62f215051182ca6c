"""A Redis lock store whose tickets are issued and returned atomically, for
several Rasa processes sharing one WhatsApp number.

Rasa keeps one "ticket lock" per conversation so that a citizen's messages
are handled one at a time and in order. Its RedisLockStore changes that lock
by reading the JSON blob, changing it in Python and writing it back: two Rasa
processes that take a ticket for the same citizen at the same moment can
both read the same lock and one overwrites the other's ticket, so two
messages run at once or one waits for a ticket that no longer exists (Rasa
issue #9213; the fix is only in Rasa Pro). Here every change is a Lua
script that Redis runs on that key without letting anything else in, so no
change is lost. A script is one round trip; the WATCH / MULTI / EXEC
transaction it replaces took three, and Rasa waits for them in its event
loop twice a message (the lock store was 15 % of a Rasa worker's busy time
in a burst of taps).

    lock_store:
      type: bot.rasa_plugins.redis_lock_store.AtomicRedisLockStore
      url: "redis-host"
      port: 6379

It takes the same settings as Rasa's RedisLockStore and stores the same
JSON, so processes can be switched over one at a time. Expiry is judged on
the caller's clock, as Rasa judges it.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Text

from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# KEYS[1]: the conversation's lock. ARGV[1]: now (the caller's clock, as
# Rasa's own expiry checks use), ARGV[2]: the conversation id. The JSON
# written is Rasa's: the lock's tickets are themselves JSON texts.
_COMMON = """
local now = tonumber(ARGV[1])
local function live_tickets()
  local raw = redis.call('GET', KEYS[1])
  if not raw then return nil end
  local kept = {}
  for _, text in ipairs(cjson.decode(raw)['tickets'] or {}) do
    local ticket = cjson.decode(text)
    if not (now > ticket['expires']) then table.insert(kept, ticket) end
  end
  return kept
end
local function save(tickets)
  local texts = {}
  for i, t in ipairs(tickets) do
    texts[i] = cjson.encode(string.format('{"number": %d, "expires": %.17g}', t['number'], t['expires']))
  end
  redis.call('SET', KEYS[1], '{"conversation_id": ' .. cjson.encode(ARGV[2]) .. ', "tickets": ['
             .. table.concat(texts, ', ') .. ']}')
end
local function without(tickets, number)
  local kept = {}
  for _, t in ipairs(tickets) do
    if t['number'] ~= number then table.insert(kept, t) end
  end
  return kept
end
"""
# ARGV[3]: the ticket's lifetime in seconds. Returns the ticket's number.
_ISSUE = _COMMON + """
local tickets = live_tickets() or {}
local number = 0
if #tickets > 0 then number = tickets[#tickets]['number'] + 1 end
table.insert(tickets, {number = number, expires = now + tonumber(ARGV[3])})
save(tickets)
return number
"""
_EXPIRE = _COMMON + """
local tickets = live_tickets()
if tickets then save(tickets) end
"""
# ARGV[3]: the ticket returned; ARGV[4]: "1" to delete the lock if no one waits.
_GIVE_BACK = _COMMON + """
local tickets = live_tickets()
if not tickets then return end
tickets = without(tickets, tonumber(ARGV[3]))
if #tickets == 0 and ARGV[4] == '1' then
  redis.call('DEL', KEYS[1])
else
  save(tickets)
end
"""


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: Any = None, **settings: Any) -> None:
        if endpoint_config is not None:
            settings = {"host": endpoint_config.url, **endpoint_config.kwargs}
        super().__init__(**settings)
        # Sent once by hash (EVALSHA); sent again whole if Redis forgot it (a restart).
        self._issue = self.red.register_script(_ISSUE)
        self._expire = self.red.register_script(_EXPIRE)
        self._give_back = self.red.register_script(_GIVE_BACK)

    def _run(self, script, conversation_id: Text, *args: Any) -> Any:
        return script(keys=[self.key_prefix + conversation_id],
                      args=[repr(time.time()), conversation_id, *args])

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            return int(self._run(self._issue, conversation_id, repr(float(lock_lifetime))))
        except Exception as exc:  # as Rasa's own: the message fails, the caller logs it
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def update_lock(self, conversation_id: Text) -> None:
        self._run(self._expire, conversation_id)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        self._run(self._give_back, conversation_id, int(ticket_number), "0")

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Returns the ticket and removes the lock if no one else waits: one
        script, so a ticket issued in between is never deleted with it.

        Rasa calls it after the turn, whatever happened. Redis unreachable
        then (restarted, a failover) must not fail a turn that is done: the
        channel would answer 500, the provider redeliver, and the citizen's
        message be handled twice. The ticket expires with its lifetime
        instead (or went with the restarted Redis's memory)."""
        try:
            self._run(self._give_back, conversation_id, int(ticket_number), "1")
        except RedisError as exc:
            log.warning("Could not return ticket %s of a conversation to Redis (%s); it expires by itself",
                        ticket_number, exc)
