"""The Redis lock store of several Rasa processes: every ticket is kept, and
one citizen's messages are handled one at a time, in order, once each, even
when they reach two processes at the same moment. Against a real Redis
(Debian's redis-server, started here on a free port; CI installs it)."""
from __future__ import annotations

import asyncio
import multiprocessing
import os
import shutil
import subprocess
import threading
import time
from collections import deque
from typing import Iterator, List

import pytest
import redis
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LockError, RedisLockStore

from bot.dev.processes import free_port
from bot.rasa_plugins.redis_lock_store import AtomicRedisLockStore

CITIZEN = "+34612345678"


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory) -> Iterator[int]:
    server = shutil.which("redis-server")
    if server is None:
        if os.environ.get("RECORDA_REQUIRE_REDIS"):
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(workdir)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis.StrictRedis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def clean(redis_port) -> int:
    redis.StrictRedis(port=redis_port, db=1).flushdb()
    return redis_port


def stores(port: int, cls=AtomicRedisLockStore):
    """Two stores on the same Redis, as two Rasa processes have."""
    return cls(port=port), cls(port=port)


def test_tickets_taken_at_the_same_moment_by_two_processes_are_all_kept(clean):
    first, second = stores(clean)
    start = threading.Barrier(2)
    taken: List[List[int]] = [[], []]

    def take(store, mine: List[int]) -> None:
        start.wait()
        for _ in range(60):
            mine.append(store.issue_ticket(CITIZEN))

    threads = [threading.Thread(target=take, args=(store, mine)) for store, mine in zip((first, second), taken)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    numbers = taken[0] + taken[1]
    assert sorted(numbers) == list(range(120))  # each number once, none lost
    assert [t.number for t in first.get_lock(CITIZEN).tickets] == list(range(120))  # kept, in order
    assert all(a < b for a, b in zip(taken[0], taken[0][1:]))  # each process's own, in order


def test_rasas_own_store_loses_that_ticket(clean):
    """Why this store exists: the same interleaving with Rasa 3.6's store
    overwrites the second process's ticket."""
    first, second = stores(clean, RedisLockStore)
    taken_meanwhile: List[int] = []
    original = first.get_or_create_lock

    def read_while_another_takes_a_ticket(conversation_id):
        lock = original(conversation_id)
        if not taken_meanwhile:
            taken_meanwhile.append(second.issue_ticket(conversation_id))
        return lock

    first.get_or_create_lock = read_while_another_takes_a_ticket
    first.issue_ticket(CITIZEN)
    numbers = [t.number for t in first.get_lock(CITIZEN).tickets]
    assert len(numbers) == 1  # two tickets taken, one kept


def test_returning_a_ticket_never_deletes_one_issued_in_between(clean):
    """One process takes and returns tickets without pause (each return
    deletes the lock when no one waits) while another takes tickets: the
    other's ticket is always there until it returns it itself."""
    first, second = stores(clean)
    stop = threading.Event()
    lost: List[int] = []

    def churn() -> None:
        while not stop.is_set():
            first.cleanup(CITIZEN, first.issue_ticket(CITIZEN))

    churner = threading.Thread(target=churn)
    churner.start()
    try:
        for _ in range(150):
            mine = second.issue_ticket(CITIZEN)
            lock = second.get_lock(CITIZEN)
            if lock is None or mine not in [t.number for t in lock.tickets]:
                lost.append(mine)
            second.cleanup(CITIZEN, mine)
    finally:
        stop.set()
        churner.join(30)
    assert lost == []
    assert second.get_lock(CITIZEN) is None  # nothing left behind


def test_the_lock_is_rasas_json_both_ways_and_expired_tickets_go(clean):
    """Rasa's own store and this one read each other's locks, so processes
    can be switched over one at a time; a ticket past its lifetime is dropped."""
    ours = AtomicRedisLockStore(port=clean)
    rasas = RedisLockStore(port=clean)
    lock = TicketLock(CITIZEN, deque([Ticket(0, time.time() - 1), Ticket(1, time.time() + 30)]))
    rasas.save_lock(lock)  # ticket 0 has expired
    assert ours.issue_ticket(CITIZEN, 30.0) == 2  # after the live ticket 1; 0 has expired
    read_by_rasa = rasas.get_lock(CITIZEN)
    assert [t.number for t in read_by_rasa.tickets] == [1, 2]
    assert all(t.expires > time.time() + 25 for t in read_by_rasa.tickets)
    assert read_by_rasa.now_serving == 1 and read_by_rasa.is_locked(2)
    ours.finish_serving(CITIZEN, 1)
    assert not rasas.get_lock(CITIZEN).is_locked(2)
    ours.cleanup(CITIZEN, 2)
    assert rasas.get_lock(CITIZEN) is None


def _handle_messages(port: int, worker: int, start, messages: int) -> None:
    """One Rasa process: handles `messages` messages of the citizen, each
    under the lock, recording when it starts and ends."""
    store = AtomicRedisLockStore(port=port)
    log = redis.StrictRedis(port=port, db=2)

    async def handle(n: int) -> None:
        async with store.lock(CITIZEN, lock_lifetime=30, wait_time_in_seconds=0.005):
            log.rpush("events", f"start {worker}:{n}")
            await asyncio.sleep(0.002)  # the turn: NLU, actions, answer
            log.rpush("events", f"end {worker}:{n}")

    async def burst() -> None:
        await asyncio.gather(*(handle(n) for n in range(messages)))

    start.wait()
    asyncio.run(burst())


def test_two_processes_handle_one_citizens_messages_one_at_a_time_once_each(clean):
    redis.StrictRedis(port=clean, db=2).flushdb()
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=_handle_messages, args=(clean, w, start, 15)) for w in range(2)]
    for w in workers:
        w.start()
    time.sleep(1.0)  # both started and connected: the messages then arrive together
    start.set()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    events = [e.decode() for e in redis.StrictRedis(port=clean, db=2).lrange("events", 0, -1)]
    # Never two turns at once: every start is followed by its own end.
    for begin, end in zip(events[::2], events[1::2]):
        assert begin.startswith("start ") and end == "end " + begin.split(" ", 1)[1]
    handled = [e.split(" ", 1)[1] for e in events[::2]]
    assert sorted(handled) == sorted(f"{w}:{n}" for w in range(2) for n in range(15))  # once each
    # Within one process, in the order the messages came.
    for w in range(2):
        mine = [int(h.split(":")[1]) for h in handled if h.startswith(f"{w}:")]
        assert mine == sorted(mine)
    assert AtomicRedisLockStore(port=clean).get_lock(CITIZEN) is None  # nothing left behind


def test_redis_gone_after_a_turn_does_not_fail_the_turn_but_does_fail_the_next(caplog):
    # Rasa returns the ticket after every turn, done or not. Redis unreachable
    # then must not turn a handled message into an error (the provider would
    # redeliver it and the citizen be answered twice); before a turn it must.
    store = AtomicRedisLockStore(port=free_port(), socket_timeout=0.5)  # nothing listens there
    store.cleanup(CITIZEN, 0)
    assert "expires by itself" in caplog.text
    with pytest.raises(LockError):  # Rasa's wrapping of the Redis error
        store.issue_ticket(CITIZEN)


def test_rasa_loads_it_by_its_module_path_from_endpoints(clean):
    from rasa.core.lock_store import LockStore
    from rasa.utils.endpoints import EndpointConfig

    config = EndpointConfig(url="127.0.0.1", port=clean, db=1,
                            type="bot.rasa_plugins.redis_lock_store.AtomicRedisLockStore")
    store = LockStore.create(config)
    assert isinstance(store, AtomicRedisLockStore)
    assert store.issue_ticket(CITIZEN) == 0
