"""Services run as child processes, for the local stack, the benchmarks and
the tests: start one with its environment and a log file, wait until its
HTTP health URL answers (or fail with the log's tail when it exits or takes
too long), stop it with SIGTERM and then SIGKILL.

    with running("booking sandbox", [sys.executable, "-m", ...], health_url, log_path) as child:
        ...
"""
from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, List, Mapping, Optional, Sequence

from bot.foundation.settings import PROJECT_ROOT

STOP_TIMEOUT = 15.0


class ProcessError(RuntimeError):
    """A service that exited, or did not answer, before it was healthy."""


@dataclass
class ChildProcess:
    name: str  # in error messages: "booking sandbox", "Rasa"...
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start(name: str, args: Sequence[str], log_path: Path,
          env: Optional[Mapping[str, str]] = None, cwd: Path = PROJECT_ROOT) -> ChildProcess:
    """Starts `args` with stdout and stderr appended to `log_path`, in a
    session of its own: stop() then reaches whatever it starts in turn, and a
    Ctrl-C in the terminal leaves the stopping to its owner."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(list(args), cwd=cwd, env=dict(env) if env is not None else None,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return ChildProcess(name, process, log_path)


def wait_healthy(child: ChildProcess, url: str, timeout: float, interval: float = 0.1) -> None:
    """Returns once GET `url` answers 200; ProcessError, with the end of the
    log, when the process exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if not child.running():
            raise ProcessError(f"{child.name} exited ({child.process.returncode}) before {url} answered; "
                               f"see {child.log_path}\n{child.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:  # not listening yet, or an HTTP error while it starts
            pass
        if time.monotonic() >= deadline:
            raise ProcessError(f"{child.name} did not answer at {url} within {timeout:.0f} s; "
                               f"see {child.log_path}\n{child.log_tail()}")
        time.sleep(interval)


def stop(*processes: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM to each process's group (all at once, so they stop in
    parallel), then SIGKILL to any still running after `timeout` seconds."""
    with sigint_ignored():
        for process in processes:
            if process.poll() is None:
                signal_group(process, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                signal_group(process, signal.SIGKILL)
                process.wait()


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """A second Ctrl-C while stopping would leave the services not yet
    stopped running on their own: it is ignored meanwhile (the main thread
    alone can change a signal's handler)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


def signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:  # it exited in the meantime
        pass


@contextlib.contextmanager
def running(name: str, args: Sequence[str], health_url: str, log_path: Path,
            env: Optional[Mapping[str, str]] = None, timeout: float = 60.0,
            stop_timeout: float = STOP_TIMEOUT) -> Iterator[ChildProcess]:
    """A started and healthy service for the block; always stopped after it."""
    child = start(name, args, log_path, env)
    try:
        wait_healthy(child, health_url, timeout)
        yield child
    finally:
        stop(child.process, timeout=stop_timeout)


# Ports are drawn below the kernel's ephemeral range: a port the kernel
# hands out (bind to 0) can be taken by an outgoing connection's source port
# in the seconds before the service binds it, which made stacks fail to start.
LOWEST_PORT = 20000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, outside the
    range the kernel gives outgoing connections."""
    return free_ports(1)[0]


def free_ports(count: int, avoid: Iterable[int] = ()) -> List[int]:
    """`count` distinct free ports on 127.0.0.1, none in `avoid` nor in the
    kernel's ephemeral range."""
    highest = _ephemeral_start() - 1
    avoid = set(avoid)
    held: List[socket.socket] = []
    try:
        for _ in range(10_000):
            if len(held) == count:
                return [sock.getsockname()[1] for sock in held]
            port = random.randint(LOWEST_PORT, highest)
            if port in avoid:
                continue
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                sock.close()
                continue
            avoid.add(port)
            held.append(sock)  # kept until all are chosen, so they are distinct
        raise ProcessError(f"no {count} free ports between {LOWEST_PORT} and {highest}")
    finally:
        for sock in held:
            sock.close()


def _ephemeral_start() -> int:
    try:
        start = int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        start = 32768  # Linux's default
    return start if start > LOWEST_PORT + 1000 else 65536  # odd range: use the top
