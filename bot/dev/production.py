"""Recorda's production profile on this machine: `make run-production`.

The same sandbox booking service, WhatsApp simulator and processes as `make
run`, but on the parts a city hall runs in production:
* PostgreSQL for Rasa's tracker store (database `recorda_tracker`) and for
  Recorda's own stores (database `recorda`);
* Redis for Rasa's lock store (bot.rasa_plugins.redis_lock_store), which is
  what lets several Rasa processes serve one WhatsApp number;
* several Rasa workers and several action-server workers (SANIC_WORKERS).

PostgreSQL and Redis are Debian's packages, started by this profile on data
directories under var/production/ and ports of their own (5433, 6380), so a
machine's own services are neither used nor changed. The profile's var dir is
var/production/, apart from `make run`'s SQLite demo.

    python -m bot.dev.production [--rasa-workers 2] [--action-workers 2]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

from bot.dev.infrastructure import DATABASES, LocalPostgres, LocalRedis
from bot.dev.processes import ChildProcess, free_ports
from bot.dev.stack import PROJECT_ROOT, Service, Stack, literal_endpoints
from bot.foundation.settings import VAR_DIR

LOCK_STORE = "bot.rasa_plugins.redis_lock_store.AtomicRedisLockStore"
DEFAULT_WORKERS = 2  # one per core of a small server


@dataclass
class ProductionStack(Stack):
    var_dir: Path = VAR_DIR / "production"
    rasa_workers: int = DEFAULT_WORKERS
    action_workers: int = DEFAULT_WORKERS
    postgres_port: int = 5433
    redis_port: int = 6380
    worker_port: int = 5007     # the worker's /health, /ready and /metrics
    webhook_redelivery: bool = True  # the simulator redelivers failed webhooks, as providers do
    postgres: Optional[LocalPostgres] = field(default=None, init=False)
    redis: Optional[LocalRedis] = field(default=None, init=False)

    @classmethod
    def isolated(cls, var_dir: Path, **options) -> "ProductionStack":
        """On free ports, PostgreSQL's and Redis's included (tests, benchmarks)."""
        postgres, redis, worker = free_ports(3)
        return super().isolated(var_dir, avoid_ports=(postgres, redis, worker), postgres_port=postgres,
                                redis_port=redis, worker_port=worker, **options)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rasa_workers < 1 or self.action_workers < 1:
            raise ValueError("the numbers of workers must be at least 1")
        self.postgres = LocalPostgres(self.var_dir / "postgres" / "data", self.postgres_port,
                                      self.var_dir / "logs" / "PostgreSQL.log")
        self.redis = LocalRedis(self.var_dir / "redis", self.redis_port, self.var_dir / "logs" / "Redis.log")

    def start(self, timeout: float = 240.0, when_healthy=lambda service: None) -> None:
        assert self.postgres is not None and self.redis is not None
        self.postgres.start()
        self.redis.start()
        self.endpoints = self._write_endpoints()
        super().start(timeout=timeout, when_healthy=when_healthy)

    def _write_endpoints(self) -> Path:
        """Rasa's endpoints: the repository's, with the tracker store on this
        PostgreSQL and the lock store on this Redis. Holds the database
        password, hence 0600 and under var/."""
        assert self.postgres is not None
        endpoints = literal_endpoints(PROJECT_ROOT / "endpoints.yml")
        endpoints["action_endpoint"]["url"] = f"http://127.0.0.1:{self.ports.actions}/webhook"
        endpoints["tracker_store"] = {
            "type": "SQL", "dialect": "postgresql", "url": "127.0.0.1", "port": self.postgres_port,
            "db": DATABASES[1], "username": "recorda", "password": self.postgres.password,
            # Rasa writes the tracker inside its event loop, so each commit's
            # wait for the disk stalls every conversation of that process: its
            # connections commit without waiting (a power cut can lose the last
            # fraction of a second of conversation events). Recorda's stores,
            # whose claims and receipts make sends and webhooks happen once, wait.
            "query": {"options": "-c synchronous_commit=off"}}
        endpoints["lock_store"] = {"type": LOCK_STORE, "url": "127.0.0.1", "port": self.redis_port,
                                   "db": 0, "key_prefix": "recorda"}
        path = self.var_dir / "endpoints-production.yml"
        path.touch(mode=0o600)
        path.write_text("# Written by bot/dev/production.py: PostgreSQL tracker store, Redis lock store.\n"
                        + yaml.safe_dump(endpoints, sort_keys=False))
        return path

    def env(self) -> Dict[str, str]:
        env = super().env()
        if self.postgres is not None and self.postgres.password_file.exists():
            env["RECORDA_DB_URL"] = self.postgres.url(DATABASES[0])
            env["RECORDA_TRACKER_DB_URL"] = self.postgres.url(DATABASES[1])
        # Every process's metrics in one place: the web app's /metrics shows them all.
        env["RECORDA_METRICS_DIR"] = str(self.var_dir / "metrics")
        env["RECORDA_WORKER_PORT"] = str(self.worker_port)
        return env

    remind_command = "make remind-production"

    def infrastructure(self) -> List[Tuple[str, str]]:
        assert self.postgres is not None and self.redis is not None
        return [("PostgreSQL (stores, tracker store)", f"127.0.0.1:{self.postgres_port}, data in "
                 f"{self.postgres.data_dir}"),
                ("Redis (lock store)", self.redis.url),
                ("Metrics (every process)", f"{self.web_url}/metrics"),
                ("Workers", f"{self.rasa_workers} Rasa, {self.action_workers} action server")]

    def _services(self) -> List[Service]:
        services = super()._services()
        for service in services:
            if service.name == "Rasa":
                service.env["SANIC_WORKERS"] = str(self.rasa_workers)
            elif service.name == "worker":
                service.health_url = f"http://127.0.0.1:{self.worker_port}/health"
            elif service.name == "action server":
                # rasa-sdk's own variable for its Sanic workers.
                service.env["ACTION_SERVER_SANIC_WORKERS"] = str(self.action_workers)
        return services

    def processes(self) -> List[ChildProcess]:
        return super().processes() + [part.process for part in (self.postgres, self.redis)
                                      if part is not None and part.process is not None]

    def stop(self) -> None:
        super().stop()
        if self.redis is not None:
            self.redis.stop()
        if self.postgres is not None:
            self.postgres.stop()


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.dev.production", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rasa-workers", type=int, default=DEFAULT_WORKERS,
                        help=f"Rasa processes sharing the number ({DEFAULT_WORKERS})")
    parser.add_argument("--action-workers", type=int, default=DEFAULT_WORKERS,
                        help=f"action-server processes ({DEFAULT_WORKERS})")
    parser.add_argument("--remind", action="store_true",
                        help="send the next service day's reminders through the running profile")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    from bot.dev.stack import serve
    args = parse_args(argv)
    try:
        stack = ProductionStack(rasa_workers=args.rasa_workers, action_workers=args.action_workers,
                                **Stack.options_from_env())
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.remind:
        return remind(stack)
    # A missing PostgreSQL or Redis is a RuntimeError that serve() prints (with what to install).
    return serve(stack, f"the production profile: PostgreSQL, Redis, {stack.rasa_workers} Rasa workers, "
                        f"{stack.action_workers} action-server workers")


def remind(stack: ProductionStack) -> int:
    """The daily job with the running profile's settings (`make remind-production`)."""
    assert stack.postgres is not None
    if not stack.postgres.password_file.exists():
        print("The production profile has not run here yet: start it with `make run-production`.",
              file=sys.stderr)
        return 1
    return subprocess.call([sys.executable, "-m", "bot.apps.reminders", "send", "--tomorrow"],
                           env=stack.env(), cwd=PROJECT_ROOT)


if __name__ == "__main__":
    sys.exit(main())
