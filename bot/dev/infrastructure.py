"""The production profile's own PostgreSQL and Redis, from Debian's packages,
each on a data directory under the profile's var dir and a port of its own:
nothing of the machine's system-wide services is used or changed.

PostgreSQL refuses to run as root; when this runs as root (a container, CI)
the cluster belongs to Debian's `postgres` user, which the package creates.
Its password (scram-sha-256, also for local connections) is generated once
and kept beside the data (0600).
"""
from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from bot.dev import processes
from bot.dev.processes import ChildProcess

INSTALL_HINT = "Install Debian's packages: sudo apt-get install postgresql redis-server"
PG_USER = "recorda"
DATABASES = ("recorda", "recorda_tracker")  # Recorda's stores; Rasa's tracker store


class MissingPackage(RuntimeError):
    pass


def postgres_bin() -> Path:
    """The newest installed server's bin directory (Debian keeps them apart from PATH)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                      key=lambda p: [int(x) for x in p.parent.parent.name.split(".") if x.isdigit()])
    if not versions:
        raise MissingPackage(f"PostgreSQL is not installed. {INSTALL_HINT}")
    return versions[-1].parent


def _as_owner(args: List[str], owner: Optional[str]) -> List[str]:
    return ["runuser", "-u", owner, "--", *args] if owner else args


@dataclass
class LocalPostgres:
    data_dir: Path
    port: int
    log_path: Path
    process: Optional[ChildProcess] = None

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        self.bin = postgres_bin()
        # Root may not run the server: Debian's `postgres` user does.
        self.owner = "postgres" if os.geteuid() == 0 else None
        self.password_file = self.data_dir.parent / "postgres-password"

    @property
    def password(self) -> str:
        return self.password_file.read_text().strip()

    def url(self, database: str = DATABASES[0]) -> str:
        return f"postgresql://{PG_USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def _initialise(self) -> None:
        """A new cluster with the `recorda` superuser and its two databases (once)."""
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.password_file.exists():
            self.password_file.write_text(secrets.token_hex(16) + "\n")
            self.password_file.chmod(0o600)
        pwfile = self.data_dir.parent / ".initdb-password"
        pwfile.write_text(self.password + "\n")
        if self.owner:
            owner = pwd.getpwnam(self.owner)
            for path in (self.data_dir, pwfile):
                os.chown(path, owner.pw_uid, owner.pw_gid)
            self._let_owner_reach(self.data_dir)
        try:
            subprocess.run(_as_owner([str(self.bin / "initdb"), "-D", str(self.data_dir), "-U", PG_USER,
                                      f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8",
                                      "--locale=C.UTF-8"], self.owner),
                           check=True, capture_output=True, text=True)
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"initdb failed:\n{exc.stdout}\n{exc.stderr}") from exc
        finally:
            pwfile.unlink()

    @staticmethod
    def _let_owner_reach(path: Path) -> None:
        """The server's user must traverse the directories above its data."""
        for parent in path.parents:
            if parent == Path("/"):
                break
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)

    def start(self, timeout: float = 60.0) -> None:
        self._initialise()
        socket_dir = self.data_dir  # no socket in /var/run/postgresql: root-owned on Debian
        args = [str(self.bin / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={socket_dir}",
                "-c", "max_connections=200", "-c", "fsync=on"]
        self.process = processes.start("PostgreSQL", _as_owner(args, self.owner), self.log_path)
        self._wait_ready(timeout)
        self._create_databases()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        isready = [str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        while subprocess.run(isready).returncode != 0:
            assert self.process is not None
            if not self.process.running() or time.monotonic() > deadline:
                raise processes.ProcessError(f"PostgreSQL did not start; see {self.log_path}\n"
                                             f"{self.process.log_tail()}")
            time.sleep(0.2)

    def _create_databases(self) -> None:
        env = {**os.environ, "PGPASSWORD": self.password}
        psql = [str(self.bin / "psql"), "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER,
                "-d", "postgres", "-tA", "-v", "ON_ERROR_STOP=1"]
        existing = subprocess.run(psql + ["-c", "SELECT datname FROM pg_database"], env=env,
                                  check=True, capture_output=True, text=True).stdout.split()
        for database in DATABASES:
            if database not in existing:
                subprocess.run(psql + ["-c", f"CREATE DATABASE {database}"], env=env, check=True,
                               capture_output=True, text=True)


    def stop(self) -> None:
        """A fast shutdown (SIGINT): clients are disconnected, nothing is lost."""
        if self.process is None or not self.process.running():
            return
        with processes.sigint_ignored():
            processes.signal_group(self.process.process, signal.SIGINT)
            try:
                self.process.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                processes.stop(self.process.process)

    def restart(self) -> None:
        self.stop()
        self.start()


@dataclass
class LocalRedis:
    data_dir: Path
    port: int
    log_path: Path
    process: Optional[ChildProcess] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30.0) -> None:
        server = shutil.which("redis-server")
        if server is None:
            raise MissingPackage(f"Redis is not installed. {INSTALL_HINT}")
        Path(self.data_dir).mkdir(parents=True, exist_ok=True)
        # Only conversation locks live here, each for seconds: no persistence.
        args = [server, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
                "--save", "", "--appendonly", "no", "--daemonize", "no"]
        self.process = processes.start("Redis", args, self.log_path)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if not self.process.running() or time.monotonic() > deadline:
                raise processes.ProcessError(f"Redis did not start; see {self.log_path}\n"
                                             f"{self.process.log_tail()}")
            time.sleep(0.1)

    def _answers(self) -> bool:
        import redis
        try:
            return bool(redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            processes.stop(self.process.process)

    def restart(self) -> None:
        self.stop()
        self.start()
