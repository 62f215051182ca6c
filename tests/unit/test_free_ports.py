"""Ports for isolated stacks: free, distinct, and never in the kernel's
ephemeral range, where an outgoing connection could take one before the
service binds it (a CI run failed so)."""
import socket

import pytest

from bot.dev import processes
from bot.dev.processes import free_ports
from bot.dev.stack import Ports


def test_ports_are_distinct_bindable_and_below_the_ephemeral_range():
    ephemeral_start = processes._ephemeral_start()
    ports = free_ports(40)
    assert len(set(ports)) == 40
    assert all(processes.LOWEST_PORT <= port < ephemeral_start for port in ports)
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def _skip_unless_free(*ports):
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                pytest.skip(f"port {port} is taken on this machine")


def test_a_port_in_use_is_skipped(monkeypatch):
    _skip_unless_free(23456)
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        busy = listening.getsockname()[1]
        draws = iter([busy, 23456])
        monkeypatch.setattr(processes.random, "randint", lambda low, high: next(draws))
        monkeypatch.setattr(processes, "_ephemeral_start", lambda: 65536)
        assert free_ports(1) == [23456]


def test_avoided_and_already_chosen_ports_are_never_returned(monkeypatch):
    _skip_unless_free(24001, 24002, 24003)
    draws = iter([24001, 24002, 24002, 24003])
    monkeypatch.setattr(processes.random, "randint", lambda low, high: next(draws))
    assert free_ports(2, avoid=[24001]) == [24002, 24003]


def test_an_isolated_stack_never_gets_a_default_port():
    defaults = set(vars(Ports()).values())
    for _ in range(20):
        assert not defaults & set(vars(Ports.free()).values())
