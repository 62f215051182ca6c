"""Starts Recorda with its embedded defaults on this machine: the sandbox
booking service, the WhatsApp simulator (with its SMS API), the action
server, the Rasa server, the worker and the web app (the citizen's page of
the SMS links), each a real process, all on localhost. `make run` calls it;
the end-to-end tests and the benchmarks use `Stack` the same way.

`make run` also fills the reminder store, once, with the history of the
sandbox's past service days (bot.dev.sandbox.history), so that the figures and
the follow-up lists have something to show; it runs while Rasa loads.
RECORDA_CITIZENS=realistic (or a profile file) starts the simulator with
citizens who answer by themselves (bot.dev.sandbox.citizen_behaviour).
RECORDA_WHATSAPP_CHANNEL=whatsapp_cloud plays Meta's WhatsApp Cloud API
instead of MessageBird: the simulator speaks it, Rasa listens on the
`whatsapp_cloud` channel (a credentials file the stack writes in its var
directory) and every process gets the WHATSAPP_CLOUD_* settings.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import astuple, dataclass, field, fields
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import yaml

from bot.dev import processes
from bot.dev.processes import ChildProcess
from bot.foundation.settings import PROJECT_ROOT, VAR_DIR, check_whatsapp_channel

SANDBOX_ACCESS_KEY = "sandbox-access-key"
SANDBOX_SIGNING_KEY = "sandbox-signing-key-for-the-local-demo"
SANDBOX_CHANNEL_ID = "sandbox-whatsapp-channel"
SANDBOX_CLOUD = {  # the WHATSAPP_CLOUD_* settings, but the API URL (the simulator's)
    "api_version": "v24.0",
    "phone_number_id": "109876543210987",
    "access_token": "sandbox-cloud-access-token",
    "app_secret": "sandbox-cloud-app-secret-for-the-local-demo",
    "verify_token": "sandbox-cloud-verify-token",
}
CLOUD_CHANNEL = "connectors.whatsapp_cloud.WhatsAppCloudInput"
SANDBOX_BOOKING_TOKEN = "sandbox-booking-token"
BOOKING_SANDBOX = "booking sandbox"
HISTORY_DAYS = 20


class _LiteralLoader(yaml.SafeLoader):
    """Reads endpoints.yml's ${VARIABLES} as written: Rasa expands them when
    it starts, from the stack's environment (Rasa, once imported, teaches
    PyYAML's safe loader to expand them, and fail on unset ones)."""


_LiteralLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "!env_var"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def literal_endpoints(path: Path) -> dict:
    """An endpoints file as written, ${VARIABLES} left for Rasa to expand."""
    return yaml.load(path.read_text(), Loader=_LiteralLoader)


@dataclass
class Ports:
    rasa: int = 5005
    actions: int = 5055
    booking: int = 8081
    simulator: int = 8082
    web: int = 8080
    status_receiver: int = 5006

    @classmethod
    def free(cls, avoid: Iterable[int] = ()) -> "Ports":
        """A distinct free port on 127.0.0.1 for each service, none of them a
        default port, so an isolated stack never meets `make run`'s."""
        names = [f.name for f in fields(cls)]
        ports = processes.free_ports(len(names), avoid=[*astuple(cls()), *avoid])
        return cls(**dict(zip(names, ports)))


@dataclass
class Service:
    name: str
    args: List[str]
    health_url: str
    process: Optional[ChildProcess] = None
    env: Dict[str, str] = field(default_factory=dict)  # on top of the stack's


@dataclass
class Stack:
    var_dir: Path = VAR_DIR
    ports: Ports = field(default_factory=Ports)
    model: Path = PROJECT_ROOT / "models" / "current.tar.gz"
    endpoints: Optional[Path] = None          # default: the repository's endpoints.yml
    status_delays: str = "0.5,1.5,4"
    citizens: str = ""                        # the simulator's --citizens; default manual
    whatsapp_channel: str = "messagebird"     # or "whatsapp_cloud": the provider the simulator plays
    bench_appointments: int = 0
    # Also Rasa's REST channel, for bench/channel_overhead.py only: it lets
    # anyone write as any number, so a town never enables it.
    rest_channel: bool = False
    # The simulator delivers again a webhook that failed, as providers do (fault tests).
    webhook_redelivery: bool = False
    rasa_token: str = ""
    action_token: str = ""
    link_secret: str = ""
    extra_env: Dict[str, str] = field(default_factory=dict)
    services: List[Service] = field(default_factory=list)

    @classmethod
    def options_from_env(cls) -> Dict[str, str]:
        """What `make run` lets a newcomer choose through the environment."""
        return {"citizens": os.environ.get("RECORDA_CITIZENS", ""),
                "whatsapp_channel": os.environ.get("RECORDA_WHATSAPP_CHANNEL") or "messagebird"}

    @classmethod
    def isolated(cls, var_dir: Path, avoid_ports: Iterable[int] = (), **options) -> "Stack":
        """A stack on free ports (none of `avoid_ports`) whose Rasa has its own
        action server and tracker store under `var_dir` (tests, benchmarks):
        it never meets the demo of `make run`. Otherwise configured like the
        repository's."""
        ports = Ports.free(avoid_ports)
        endpoints = literal_endpoints(PROJECT_ROOT / "endpoints.yml")
        endpoints["action_endpoint"]["url"] = f"http://127.0.0.1:{ports.actions}/webhook"
        endpoints["tracker_store"]["db"] = str(Path(var_dir) / "tracker.db")
        path = Path(var_dir) / "endpoints.yml"
        Path(var_dir).mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(endpoints))
        return cls(var_dir=Path(var_dir), ports=ports, endpoints=path, **options)

    def __post_init__(self) -> None:
        check_whatsapp_channel(self.whatsapp_channel)
        self.var_dir = Path(self.var_dir)
        self.var_dir.mkdir(parents=True, exist_ok=True)
        (self.var_dir / "logs").mkdir(exist_ok=True)
        if not self.rasa_token:
            # Rasa's HTTP API only answers with this token; the job reads it too.
            self.rasa_token = self._persistent_secret("rasa-token", 24)
        if not self.action_token:
            # Rasa's calls to the action server carry it; it also seals citizens' messages.
            self.action_token = self._persistent_secret("action-token", 32)
        if not self.link_secret:
            # Signs the personal links of the SMS fallback (worker and web app).
            self.link_secret = self._persistent_secret("link-secret", 32)

    remind_command = "make remind          (or: .venv/bin/python -m bot.apps.reminders send --tomorrow)"

    def infrastructure(self) -> List[Tuple[str, str]]:
        """(name, where) of the parts beside Recorda's processes, for the start-up text."""
        return [("Database (SQLite)", str(self.var_dir / "recorda.db"))]

    def _persistent_secret(self, name: str, nbytes: int) -> str:
        path = self.var_dir / name
        if not path.exists():
            path.write_text(secrets.token_hex(nbytes))  # hex: never starts with "-"
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def booking_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.booking}"

    @property
    def simulator_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.simulator}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.web}"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.rasa}"

    @property
    def cloud(self) -> bool:
        return self.whatsapp_channel == "whatsapp_cloud"

    @property
    def webhook_url(self) -> str:
        return f"{self.rasa_url}/webhooks/{self.whatsapp_channel}/webhook"

    def credentials(self) -> Path:
        """Rasa's channels: the repository's credentials.yml (MessageBird), or
        in Cloud API mode one the stack writes, whose values the
        WHATSAPP_CLOUD_* environment of env() repeats."""
        if not self.cloud and not self.rest_channel:
            return PROJECT_ROOT / "credentials.yml"
        if self.cloud:
            channels = {CLOUD_CHANNEL: {"api_url": self.simulator_url, **SANDBOX_CLOUD}}
            why = ("RECORDA_WHATSAPP_CHANNEL=whatsapp_cloud): the Cloud\n"
                   "# API channel, against the local WhatsApp simulator.\n")
        else:
            channels = yaml.safe_load((PROJECT_ROOT / "credentials.yml").read_text())
            why = "a benchmark): the repository's channels.\n"
        if self.rest_channel:
            channels["rest"] = None
            why += "# Plus Rasa's REST channel, to compare with: never on a server.\n"
        path = self.var_dir / "credentials-stack.yml"
        path.write_text("# Written by bot/dev/stack.py (" + why + yaml.safe_dump(channels, sort_keys=False))
        return path

    def env(self) -> Dict[str, str]:
        env = dict(os.environ)
        env.update({
            "RECORDA_VAR_DIR": str(self.var_dir),
            "RECORDA_DB_URL": f"sqlite:///{self.var_dir / 'recorda.db'}",
            "RECORDA_BOOKING_URL": f"{self.booking_url}/api/v1",
            "RECORDA_BOOKING_TOKEN": SANDBOX_BOOKING_TOKEN,
            "RECORDA_RASA_URL": self.rasa_url,
            "RECORDA_RASA_TOKEN": self.rasa_token,
            "RECORDA_ACTION_TOKEN": self.action_token,
            "MESSAGEBIRD_API_URL": f"{self.simulator_url}/v1",
            "MESSAGEBIRD_ACCESS_KEY": SANDBOX_ACCESS_KEY,
            "MESSAGEBIRD_SIGNING_KEY": SANDBOX_SIGNING_KEY,
            "MESSAGEBIRD_CHANNEL_ID": SANDBOX_CHANNEL_ID,
            "MESSAGEBIRD_SMS_API_URL": self.simulator_url,
            "RECORDA_WHATSAPP_CHANNEL": self.whatsapp_channel,
            "RECORDA_LINK_SECRET": self.link_secret,
            "RECORDA_PUBLIC_URL": self.web_url,
            # The console reads the tracker store that this Rasa writes.
            "RECORDA_ENDPOINTS": str(self.endpoints or PROJECT_ROOT / "endpoints.yml"),
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "SANIC_HOST": "127.0.0.1",
            "PYTHONPATH": str(PROJECT_ROOT),
        })
        if self.cloud:
            env["WHATSAPP_CLOUD_API_URL"] = self.simulator_url
            env.update({f"WHATSAPP_CLOUD_{key.upper()}": value for key, value in SANDBOX_CLOUD.items()})
        env.update(self.extra_env)
        return env

    def _services(self) -> List[Service]:
        py = sys.executable
        booking = [py, "-m", "bot.dev.sandbox.booking_service", "--host", "127.0.0.1",
                   "--port", str(self.ports.booking), "--db", str(self.var_dir / "booking.db"),
                   "--token", SANDBOX_BOOKING_TOKEN]
        if self.bench_appointments:
            booking += ["--reseed", "--bench-appointments", str(self.bench_appointments)]
        status_receiver = f"http://127.0.0.1:{self.ports.status_receiver}"
        simulator = [py, "-m", "bot.dev.sandbox.whatsapp_simulator", "--host", "127.0.0.1",
                     "--port", str(self.ports.simulator), "--access-key", SANDBOX_ACCESS_KEY,
                     "--signing-key", SANDBOX_SIGNING_KEY, "--channel-id", SANDBOX_CHANNEL_ID,
                     "--webhook-url", self.webhook_url, "--status-delays", self.status_delays,
                     "--provider", self.whatsapp_channel,
                     # Statuses to Recorda's status receiver, as a town subscribes them.
                     "--status-webhook-url", f"{status_receiver}/webhooks/{self.whatsapp_channel}/statuses"]
        if self.cloud:
            simulator += ["--cloud-access-token", SANDBOX_CLOUD["access_token"], "--cloud-app-secret",
                          SANDBOX_CLOUD["app_secret"], "--cloud-phone-number-id", SANDBOX_CLOUD["phone_number_id"]]
        if self.citizens:
            simulator += ["--citizens", self.citizens]
        if self.webhook_redelivery:
            simulator.append("--redeliver")
        return [
            Service(BOOKING_SANDBOX, booking, f"{self.booking_url}/sandbox/health"),
            Service("WhatsApp simulator", simulator, f"{self.simulator_url}/sim/health"),
            Service("action server", [py, "-m", "bot.apps.action_server", "--host", "127.0.0.1",
                                      "--port", str(self.ports.actions)],
                    f"http://127.0.0.1:{self.ports.actions}/health"),
            Service("Rasa", [py, "-m", "bot.apps.rasa_server", "run", "--enable-api", f"--auth-token={self.rasa_token}",
                             "--interface", "127.0.0.1", "--port", str(self.ports.rasa),
                             "--model", str(self.model), "--credentials", str(self.credentials()),
                             "--endpoints", str(self.endpoints or PROJECT_ROOT / "endpoints.yml")],
                    f"{self.rasa_url}/status?token={self.rasa_token}"),
            Service("status receiver", [py, "-m", "bot.apps.status_receiver", "--host", "127.0.0.1",
                                        "--port", str(self.ports.status_receiver),
                                        "--credentials", str(self.credentials())],
                    f"{status_receiver}/health"),
            Service("worker", [py, "-m", "bot.apps.worker"], ""),
            Service("web app", [py, "-m", "bot.apps.web", "--host", "127.0.0.1", "--port", str(self.ports.web)],
                    f"{self.web_url}/health"),
        ]

    def start(self, timeout: float = 180.0,
              when_healthy: Callable[[Service], None] = lambda service: None) -> None:
        """Starts every service and waits until each is healthy, in order;
        `when_healthy(service)` is called as each one is."""
        env = self.env()
        # The schema belongs to the migrations: the stack's database is
        # brought to the latest one before any service opens a store.
        from bot.apps.database import upgrade
        upgrade(env["RECORDA_DB_URL"])
        self.services = self._services()
        for service in self.services:
            service.process = processes.start(service.name, service.args, self.log_path(service),
                                              {**env, **service.env})
        deadline = time.monotonic() + timeout
        for service in self.services:
            if service.health_url:
                processes.wait_healthy(service.process, service.health_url, deadline - time.monotonic(),
                                       interval=0.3)
                when_healthy(service)

    def start_history(self, days: int = HISTORY_DAYS) -> subprocess.Popen:
        """Fills the reminder store with the past service days' history,
        unless it has some already (needs the booking sandbox only)."""
        return subprocess.Popen([sys.executable, "-m", "bot.dev.sandbox.history", "--days", str(days),
                                 "--if-empty"], cwd=PROJECT_ROOT, env=self.env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)

    def log_path(self, service: Service) -> Path:
        return self.var_dir / "logs" / f"{service.name.replace(' ', '-')}.log"

    def processes(self) -> List[ChildProcess]:
        """Every process the stack started (benchmarks measure their CPU)."""
        return [s.process for s in self.services if s.process]

    def stop(self) -> None:
        processes.stop(*(s.process.process for s in reversed(self.services) if s.process))


DEMO_ADMIN = "admin"
PROVIDER_NAMES = {"messagebird": "MessageBird", "whatsapp_cloud": "WhatsApp Cloud API"}


def demo_console_sign_in(var_dir: Path, db_url: str) -> str:
    """The sandbox's first console user, so a newcomer can sign in at once:
    `admin` with a random password kept in var/console-admin-password (0600).
    A town's own deployment creates its admin with `python -m bot.apps.console_admin
    create-admin` instead. Returns the line to print."""
    from bot.console.accounts import ADMIN, Accounts
    accounts = Accounts(db_url)
    password_file = var_dir / "console-admin-password"
    if not accounts.all_users():
        password = secrets.token_urlsafe(12)
        accounts.create_user(DEMO_ADMIN, "Admin (sandbox)", password, ADMIN, "ca")
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
    if password_file.exists() and accounts.get_by_username(DEMO_ADMIN) is not None:
        return f"user {DEMO_ADMIN}, password {password_file.read_text().strip()} (in {password_file})"
    return "sign in with your console user (python -m bot.apps.console_admin add-user ...)"


def _stop_on_sigterm(*_):
    raise KeyboardInterrupt


def _history_report(history: List[subprocess.Popen], timeout: float = 60.0) -> str:
    """What the history filler said, once it is done."""
    if not history:
        return ""
    process = history[0]
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        processes.stop(process)
        return "The reminder history took too long and was stopped; run: python -m bot.dev.sandbox.history"
    if process.returncode != 0:
        return f"The reminder history could not be filled:\n{output.strip()}"
    return output.strip()


def main() -> int:
    try:
        stack = Stack(**Stack.options_from_env())
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    return serve(stack, "sandbox booking service, WhatsApp simulator, actions, Rasa, status receiver, "
                        "worker, web app")


def serve(stack: Stack, description: str) -> int:
    """Starts `stack`, prints where everything is and runs until Ctrl-C, a
    SIGTERM or a service's exit; the exit status for the command."""
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    print(f"Starting Recorda ({description})…")
    print(f"Logs: {stack.var_dir / 'logs'}")
    history: List[subprocess.Popen] = []

    def when_healthy(service: Service) -> None:
        # The history needs the booking sandbox only: it runs while Rasa loads.
        if service.name == BOOKING_SANDBOX:
            history.append(stack.start_history())
    try:
        stack.start(when_healthy=when_healthy)
        history_report = _history_report(history)
        sign_in = demo_console_sign_in(stack.var_dir, stack.env()["RECORDA_DB_URL"])
    except RuntimeError as exc:  # a service that did not start; infrastructure.MissingPackage
        print(exc, file=sys.stderr)
        stack.stop()
        return 1
    except BaseException:
        processes.stop(*history)
        stack.stop()
        raise
    print(f"""
Recorda is running:
  WhatsApp simulator (the citizen's phone)  {stack.simulator_url}/
  Sandbox booking service (appointments)    {stack.booking_url}/
  Staff console                             {stack.web_url}/console
                                            {sign_in}
  Citizen's page of an SMS link             {stack.web_url}/c/… (the links arrive as SMS in the simulator)
  Rasa server (API behind a token)          {stack.rasa_url}
  {PROVIDER_NAMES[stack.whatsapp_channel] + " webhook":<42}{stack.webhook_url}
  {"Status receiver (delivery statuses)":<42}http://127.0.0.1:{stack.ports.status_receiver}/webhooks/{stack.whatsapp_channel}/statuses
{"".join(f"  {name:<42}{where}{chr(10)}" for name, where in stack.infrastructure())}
Send tomorrow's reminders, in another terminal:
  {stack.remind_command}
Let the citizens answer by themselves, like a real town (2 h last 7.2 s):
  curl -X POST {stack.simulator_url}/sim/behaviour -d '{{"profile": "realistic", "time_scale": 0.001}}'

{history_report}

Press Ctrl-C to stop.""", flush=True)
    try:
        while all(s.process.running() for s in stack.services):
            time.sleep(1)
        dead = [s.name for s in stack.services if not s.process.running()]
        print(f"Stopped because {', '.join(dead)} exited; see {stack.var_dir / 'logs'}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
