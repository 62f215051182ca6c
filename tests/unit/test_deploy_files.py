"""The deployment files (deploy/, docs/operations.md) against the code they
start: every Kubernetes manifest is valid for Kubernetes 1.28 (strict:
no unknown field), every process they start exists and takes the options
given, every environment variable they name is one Recorda or Rasa reads,
the ports of the Services, the probes, the units and the nginx upstreams are
those the processes listen on, the probes ask routes that exist, and the
public paths (nginx site and Ingress) are exactly the channels' webhooks,
the status receiver's and the web app's pages. With nginx installed, the
site runs under a real nginx (RECORDA_REQUIRE_NGINX=1, as CI sets, makes a
missing nginx a failure)."""
from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.foundation.settings import PROJECT_ROOT, WHATSAPP_CHANNELS
from tests.support.deploy_files import (
    ENDPOINTS,
    ENV_EXAMPLE,
    INSTALL_DIR,
    KUBERNETES_REFERENCE,
    NGINX_SITE,
    SHELL_REFERENCE,
    SYSTEMD,
    VENV_PYTHON,
    Document,
    containers,
    endpoints_variables,
    env_example,
    env_example_set,
    environment_names_read,
    ingress_backend,
    kubernetes_documents,
    names_read_by_python_interpreter,
    names_read_by_scripts,
    option,
    pod_specs,
    python_files,
    python_module,
    recorda_production_code,
    sample_path,
    systemd_units,
)

KUBERNETES_VERSION = "1.28.0"   # the schemas kubernetes-validate bundles for it
IMAGE = "registry.example.org/recorda:VERSION"
BODY_LIMIT = 1_000_000          # credentials.yml's max_body_bytes
LINK_SECRET = "0" * 64
# The public paths and the process behind each (nginx upstream, Kubernetes Service).
RASA, STATUS, WEB = "rasa", "status", "web"
NGINX_UPSTREAMS = {RASA: "recorda_rasa", STATUS: "recorda_status", WEB: "recorda_web"}
SERVICES = {RASA: "recorda-rasa", STATUS: "recorda-status", WEB: "recorda-web"}
PROCESS_OF_MODULE = {"bot.apps.rasa_server": RASA, "bot.apps.status_receiver": STATUS, "bot.apps.web": WEB,
                     "bot.apps.action_server": "actions", "bot.apps.worker": "worker"}
# Read by Recorda, on purpose not in recorda.env.example.
NOT_FOR_SERVERS = {
    "RECORDA_CLOCK": "shifts the clock of a test stack (scripts/test-at-times)",
    "RECORDA_ACTION_HOST": "the units and pods pass --host",
    "RECORDA_ACTION_PORT": "the units and pods pass --port",
    "RECORDA_ENDPOINTS": "RECORDA_TRACKER_DB_URL names the tracker store instead",
    "PROMETHEUS_MULTIPROC_DIR": "prometheus_client's own name for RECORDA_METRICS_DIR",
}


def public_process(path: str) -> Optional[str]:
    """Who answers `path` from the internet (docs/operations.md); None: nobody (404)."""
    for channel in WHATSAPP_CHANNELS:
        if path == f"/webhooks/{channel}/webhook":
            return RASA
        if path == f"/webhooks/{channel}/statuses":
            return STATUS
    if path.startswith(("/c/", "/static/")) or path == "/console" or path.startswith("/console/"):
        return WEB
    return None


# --- the real routes of every process ---------------------------------------------
Route = Tuple[str, str]   # (Sanic-style path pattern, method)


def _sanic_routes(app) -> Set[Route]:
    return {(route.path, sorted(route.methods)[0] if "GET" not in route.methods else "GET")
            for route in app.router.routes}


@pytest.fixture(scope="module")
def routes(tmp_path_factory) -> Dict[str, Set[Route]]:
    """Process -> its routes, from the apps themselves: Rasa with both
    WhatsApp channels (built from credentials.yml and
    deploy/credentials-whatsapp-cloud.yml, as the units start them), the
    status receiver of each channel, the web app, the action server, the worker."""
    directory = tmp_path_factory.mktemp("apps")
    db_url = f"sqlite:///{directory / 'recorda.db'}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RECORDA_DB_URL", db_url)
        for key in ("PHONE_NUMBER_ID", "ACCESS_TOKEN", "APP_SECRET", "VERIFY_TOKEN"):
            env.setenv(f"WHATSAPP_CLOUD_{key}", "deploy-test-value")
        from bot import patches
        patches.apply_to_rasa()
        import rasa.server
        from rasa.core.channels.channel import register

        from bot.apps.action_server import create_app as action_app
        from bot.apps.status_receiver import channel_from_credentials
        from bot.apps.status_receiver import create_app as status_app
        from bot.apps.web.app import create_app as web_app
        from bot.apps.worker_http import Heartbeat, operations_app
        from tests.support.console import console_settings

        channels = [channel_from_credentials("messagebird", str(PROJECT_ROOT / "credentials.yml")),
                    channel_from_credentials("whatsapp_cloud", str(PROJECT_ROOT / "deploy" /
                                                                   "credentials-whatsapp-cloud.yml"))]
        rasa_app = rasa.server.create_app(auth_token="deploy-test-token")
        register(channels, rasa_app, route="/webhooks/")
        status = set()
        for channel in channels:
            status |= _sanic_routes(status_app(channel, "http://127.0.0.1:1", name=f"deploy_status_{channel.name()}"))
        web = web_app(console_settings(db_url, db_url, link_secret=LINK_SECRET), name="deploy_web")
        worker = operations_app([], Heartbeat())
        found = {
            RASA: _sanic_routes(rasa_app),
            STATUS: status,
            WEB: _sanic_routes(web),
            "actions": _sanic_routes(action_app("t" * 32, checks=[])),
            "worker": {(r.resource.canonical.lstrip("/"), r.method) for r in worker.router.routes()
                       if r.resource is not None and r.method != "HEAD"},
        }
        assert web.config.REQUEST_MAX_SIZE == BODY_LIMIT, "the web app's request limit; nginx's must follow"
    return {process: {("/" + path.lstrip("/"), method) for path, method in paths}
            for process, paths in found.items()}



def test_the_public_paths_are_real_routes(routes):
    for channel in WHATSAPP_CHANNELS:
        assert (f"/webhooks/{channel}/webhook", "POST") in routes[RASA]
        assert (f"/webhooks/{channel}/statuses", "POST") in routes[STATUS]
    public_web = [pattern for pattern, _ in routes[WEB] if public_process(sample_path(pattern[1:])) == WEB]
    assert any(p.startswith("/c/") for p in public_web) and "/console" in public_web
    assert any(p.startswith("/static/") for p in public_web)
    # Every route is public on its own process only, or not at all.
    for process, paths in routes.items():
        for pattern, _ in paths:
            assert public_process(sample_path(pattern[1:])) in (None, process), pattern


# --- Kubernetes -------------------------------------------------------------------
DOCUMENTS = kubernetes_documents()


def by_kind(kind: str) -> Dict[str, dict]:
    return {doc.name: doc.body for doc in DOCUMENTS if doc.kind == kind}


@pytest.mark.parametrize("document", DOCUMENTS, ids=str)
def test_every_manifest_is_valid_for_kubernetes(document: Document):
    import kubernetes_validate.utils
    try:
        kubernetes_validate.utils.validate(document.body, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.utils.ValidationError as error:
        pytest.fail(f"{document}: {'.'.join(map(str, error.path))}: {error.message}")


def test_the_manifests_run_every_process():
    deployments = by_kind("Deployment")
    assert set(deployments) == {"recorda-rasa", "recorda-actions", "recorda-status", "recorda-web", "recorda-worker"}
    assert set(by_kind("Service")) == {"recorda-rasa", "recorda-actions", "recorda-status", "recorda-web"}
    assert by_kind("Job")["recorda-migrate"]
    assert by_kind("Secret") and by_kind("ConfigMap") and by_kind("Ingress")
    reminders = by_kind("CronJob")["recorda-reminders"]["spec"]
    assert reminders["concurrencyPolicy"] == "Forbid"
    ZoneInfo(reminders["timeZone"])
    assert by_kind("Deployment")["recorda-worker"]["spec"]["replicas"] == 1, "one worker per deployment"
    for doc, spec in pod_specs(DOCUMENTS):
        for container in containers(spec):
            assert container["image"] == IMAGE, f"{doc}: the image placeholder of deploy/kubernetes/README.md"
            assert container["resources"]["requests"], f"{doc}: {container['name']} has no resource requests"
    for name, deployment in deployments.items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert "livenessProbe" in container and "readinessProbe" in container, name


def _container_listening(container: dict, config: Dict[str, str]) -> Tuple[str, int]:
    """(address, port) a container's process listens on, from its arguments
    (or, for the worker, RECORDA_WORKER_HOST/PORT)."""
    argv = container.get("command", []) + container.get("args", [])
    port = option(argv, "--port")
    if port is not None:
        return option(argv, "--host") or option(argv, "--interface") or "127.0.0.1", int(port)
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    return env.get("RECORDA_WORKER_HOST") or "127.0.0.1", int(config["RECORDA_WORKER_PORT"])


def _port_number(container: dict, port) -> int:
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"] if p.get("name") == port)


def test_services_and_probes_reach_the_port_each_process_listens_on(routes):
    config = by_kind("ConfigMap")["recorda-config"]["data"]
    deployments = by_kind("Deployment")
    for name, deployment in deployments.items():
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        address, port = _container_listening(container, config)
        assert address == "0.0.0.0", f"{name}: the kubelet and the Service reach the pod's address"
        assert [p["containerPort"] for p in container["ports"]] == [port], name
        module = python_module(container["command"] + container.get("args", []))
        assert module is not None, name
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if probe in container:
                get = container[probe]["httpGet"]
                assert _port_number(container, get["port"]) == port, f"{name} {probe}"
                assert (get["path"], "GET") in routes[PROCESS_OF_MODULE[module]], \
                    f"{name} {probe}: {module} has no GET {get['path']}"
    for name, service in by_kind("Service").items():
        selector = service["spec"]["selector"]
        [deployment] = [d for d in deployments.values()
                        if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        for port in service["spec"]["ports"]:
            assert _port_number(container, port["targetPort"]) == _container_listening(container, config)[1], name
    rasa_labels = deployments["recorda-rasa"]["spec"]["template"]["metadata"]["labels"]
    [budget] = by_kind("PodDisruptionBudget").values()
    assert budget["spec"]["selector"]["matchLabels"].items() <= rasa_labels.items()


def test_processes_find_each_other_through_the_services(routes):
    config = by_kind("ConfigMap")["recorda-config"]["data"]
    services = {name: {p["port"] for p in s["spec"]["ports"]} for name, s in by_kind("Service").items()}
    rasa, actions = urlsplit(config["RECORDA_RASA_URL"]), urlsplit(config["RECORDA_ACTION_URL"])
    assert rasa.port in services[rasa.hostname]
    assert actions.port in services[actions.hostname]
    assert (actions.path, "POST") in routes["actions"], "Rasa calls the action server's webhook"


def test_the_ingress_publishes_what_the_nginx_site_does(routes):
    [ingress] = by_kind("Ingress").values()
    service_ports = {name: {p["port"] for p in s["spec"]["ports"]} for name, s in by_kind("Service").items()}
    for paths in routes.values():
        for pattern, _ in paths:
            path = sample_path(pattern[1:])
            backend = ingress_backend(ingress, path)
            expected = public_process(path)
            assert (backend[0] if backend else None) == (SERVICES[expected] if expected else None), path
            if backend:
                assert backend[1] in service_ports[backend[0]], path
    size = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert int(size) == BODY_LIMIT


# --- the commands -------------------------------------------------------------------
def systemd_commands() -> List[Tuple[str, List[str]]]:
    return [(name, shlex.split(unit["Service"]["ExecStart"])) for name, unit in systemd_units().items()
            if unit.has_section("Service")]


def kubernetes_commands() -> List[Tuple[str, List[str]]]:
    return [(f"{doc}:{c['name']}", c.get("command", []) + c.get("args", []))
            for doc, spec in pod_specs(DOCUMENTS) for c in containers(spec)]


COMMANDS = systemd_commands() + kubernetes_commands()


def test_every_command_starts_something_that_exists():
    modules = set()
    for where, argv in COMMANDS:
        module = python_module(argv)
        if module is None:
            script = PROJECT_ROOT / Path(argv[0]).relative_to(INSTALL_DIR)
            assert os.access(script, os.X_OK), f"{where}: {argv[0]} is not an executable of the repository"
            continue
        assert argv[0] == VENV_PYTHON, f"{where}: runs {argv[0]}, not the venv's python"
        assert importlib.util.find_spec(module) is not None, f"{where}: no module {module}"
        modules.add(module)
        for flag in ("--credentials", "--endpoints"):
            value = option(argv, flag)
            if value is not None:
                assert (PROJECT_ROOT / value).is_file(), f"{where}: {flag} {value} is not in the repository"
    assert modules == {"bot.apps.rasa_server", "bot.apps.action_server", "bot.apps.status_receiver",
                       "bot.apps.web", "bot.apps.worker", "bot.apps.reminders", "bot.apps.database"}


def _help(module: str, subcommand: Optional[str]) -> str:
    argv = [sys.executable, "-m", module] + ([subcommand] if subcommand else []) + ["--help"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_command_uses_options_its_program_has():
    helps: Dict[Tuple[str, Optional[str]], str] = {}
    for where, argv in COMMANDS:
        module = python_module(argv)
        if module is None or module == "bot.apps.rasa_server":
            continue
        rest = argv[argv.index(module) + 1:]
        subcommand = rest[0] if rest and not rest[0].startswith("-") else None
        key = (module, subcommand)
        if key not in helps:
            helps[key] = _help(module, subcommand)
        for arg in rest:
            if arg.startswith("--"):
                assert re.search(rf"(^|\s|\[){re.escape(arg.split('=')[0])}\b", helps[key]), \
                    f"{where}: {module} {subcommand or ''} has no option {arg}"


def test_rasa_takes_the_arguments_it_is_started_with():
    from rasa.__main__ import create_argument_parser
    started = [argv for _, argv in COMMANDS if python_module(argv) == "bot.apps.rasa_server"]
    assert len(started) == 2  # the unit and the Deployment
    for argv in started:
        rasa_args = argv[argv.index("bot.apps.rasa_server") + 1:]
        try:
            parsed = create_argument_parser().parse_args(rasa_args)
        except SystemExit:
            pytest.fail(f"rasa refuses {rasa_args}")
        assert parsed.enable_api and parsed.auth_token and parsed.port == 5005
        assert parsed.endpoints == "deploy/endpoints.yml"


# --- the environment ------------------------------------------------------------------
@pytest.fixture(scope="module")
def names_read() -> Set[str]:
    """Every environment variable a Recorda process may read: Recorda's
    production code, Rasa and rasa-sdk, the Python interpreter, the backup
    scripts, and the ${VARIABLES} Rasa expands in deploy/endpoints.yml."""
    import rasa
    import rasa_sdk
    third_party = python_files(Path(rasa.__file__).parent, Path(rasa_sdk.__file__).parent)
    return (environment_names_read(recorda_production_code()) | environment_names_read(third_party)
            | names_read_by_python_interpreter() | endpoints_variables()
            | names_read_by_scripts(*(PROJECT_ROOT / "scripts").glob("*-postgres*")))


def names_in_deploy_files() -> Dict[str, Set[str]]:
    """Each variable named in the deploy files -> where."""
    named: Dict[str, Set[str]] = {}

    def add(name: str, where: str) -> None:
        named.setdefault(name, set()).add(where)
    for name in env_example():
        add(name, ENV_EXAMPLE.name)
    for unit_name, unit in systemd_units().items():
        if unit.has_section("Service"):
            for assignment in shlex.split(unit["Service"].get("Environment", "")):
                add(assignment.split("=", 1)[0], unit_name)
            for a, b in SHELL_REFERENCE.findall(unit["Service"].get("ExecStart", "")):
                add(a or b, unit_name)
    for doc in DOCUMENTS:
        for key in doc.body.get("data", {}) if doc.kind == "ConfigMap" else ():
            add(key, str(doc))
        for key in doc.body.get("stringData", {}) if doc.kind == "Secret" else ():
            add(key, str(doc))
    for doc, spec in pod_specs(DOCUMENTS):
        for container in containers(spec):
            for variable in container.get("env", []):
                add(variable["name"], str(doc))
                reference = variable.get("valueFrom", {}).get("secretKeyRef")
                if reference:
                    add(reference["key"], str(doc))
            for arg in container.get("command", []) + container.get("args", []):
                for name in KUBERNETES_REFERENCE.findall(arg):
                    add(name, str(doc))
    for name in endpoints_variables():
        add(name, ENDPOINTS.name)
    return named


def test_every_variable_in_the_deploy_files_is_one_recorda_or_rasa_reads(names_read):
    unread = {name: sorted(where) for name, where in names_in_deploy_files().items() if name not in names_read}
    assert not unread, f"named in deploy files, read by nothing: {unread}"


def test_the_env_file_lists_every_setting_and_kubernetes_uses_its_names(names_read):
    listed = set(env_example())
    recorda = environment_names_read(recorda_production_code())
    assert not (recorda - listed - set(NOT_FOR_SERVERS)), "settings missing from deploy/recorda.env.example"
    python_own = names_read_by_python_interpreter()
    for name, where in names_in_deploy_files().items():
        assert name in listed or name in python_own, f"{name} ({sorted(where)}) is not in recorda.env.example"


def _kubernetes_environment(container: dict) -> Dict[str, str]:
    config = by_kind("ConfigMap")["recorda-config"]["data"]
    secret = by_kind("Secret")["recorda-secrets"]["stringData"]
    env: Dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(config if "configMapRef" in source else secret)
    for variable in container.get("env", []):
        reference = variable.get("valueFrom", {}).get("secretKeyRef")
        env[variable["name"]] = secret[reference["key"]] if reference else variable["value"]
    return env


def _rasa_environments() -> List[Tuple[str, Dict[str, str]]]:
    [rasa] = [c for c in by_kind("Deployment")["recorda-rasa"]["spec"]["template"]["spec"]["containers"]]
    return [("systemd", env_example_set()), ("kubernetes", _kubernetes_environment(rasa))]


@pytest.mark.parametrize("where,environment", _rasa_environments(), ids=["systemd", "kubernetes"])
def test_rasa_loads_deploy_endpoints_with_that_environment(where, environment, tmp_path, monkeypatch):
    """What Rasa does with deploy/endpoints.yml at start: every variable set
    (Rasa refuses to start on an unset one), the PostgreSQL tracker store,
    Recorda's Redis lock store (several Sanic workers allowed), the action
    server with its token."""
    missing = endpoints_variables() - set(environment)
    assert not missing, f"{where}: Rasa cannot start without {sorted(missing)}"
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"  # the URL as Rasa uses it, on SQLite here
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert environment["RECORDA_TRACKER_DB_URL"].startswith("postgresql://")
    monkeypatch.setenv("RECORDA_TRACKER_DB_URL", tracker_url)
    from rasa.core.lock_store import LockStore
    from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
    from rasa.core.utils import number_of_sanic_workers, read_endpoints_from_path

    from bot.rasa_plugins.redis_lock_store import AtomicRedisLockStore
    endpoints = read_endpoints_from_path(ENDPOINTS)
    assert endpoints.action.url == environment["RECORDA_ACTION_URL"]
    assert endpoints.action.headers == {"Authorization": f"Bearer {environment['RECORDA_ACTION_TOKEN']}"}
    tracker = TrackerStore.create(endpoints.tracker_store)
    assert isinstance(tracker, SQLTrackerStore) and str(tracker.engine.url) == tracker_url
    tracker.engine.dispose()
    lock = LockStore.create(endpoints.lock_store)
    assert isinstance(lock, AtomicRedisLockStore)
    connection = lock.red.connection_pool.connection_kwargs
    assert (connection["host"], connection["port"], connection["password"]) == (
        environment["RECORDA_REDIS_HOST"], int(environment["RECORDA_REDIS_PORT"]),
        environment["RECORDA_REDIS_PASSWORD"])
    workers = int(environment["SANIC_WORKERS"])
    assert number_of_sanic_workers(endpoints.lock_store) == workers


# --- systemd -------------------------------------------------------------------------
UNITS = systemd_units()
LONG_RUNNING = ["recorda-rasa.service", "recorda-actions.service", "recorda-status.service",
                "recorda-web.service", "recorda-worker.service"]


def test_the_units_run_each_process_as_recorda_from_the_venv():
    assert set(LONG_RUNNING) | {"recorda-reminders.service", "recorda-migrate.service"} <= set(UNITS)
    for name, unit in UNITS.items():
        if name.endswith(".timer"):
            assert unit["Timer"]["Unit"] in UNITS, name
            assert unit["Install"]["WantedBy"] == "timers.target", name
            continue
        service = unit["Service"]
        assert (service["User"], service["Group"]) == ("recorda", "recorda"), name
        assert service["WorkingDirectory"] == INSTALL_DIR and service["EnvironmentFile"] == "/etc/recorda/recorda.env"
        assert service["NoNewPrivileges"] == "yes" and service["PrivateTmp"] == "yes", name
        assert service["ProtectSystem"] == "strict" and f"{INSTALL_DIR}/var" in service["ReadWritePaths"].split()
        if name != "recorda-backup.service":
            assert shlex.split(service["ExecStart"])[:2] == [VENV_PYTHON, "-m"], name
        if name not in ("recorda-migrate.service", "recorda-backup.service"):
            assert "recorda-migrate.service" in unit["Unit"]["Requires"].split(), name
            assert "recorda-migrate.service" in unit["Unit"]["After"].split(), name
    for name in LONG_RUNNING:
        assert UNITS[name]["Service"]["Restart"] == "on-failure", name
        assert UNITS[name]["Install"]["WantedBy"] == "multi-user.target", name
    migrate = UNITS["recorda-migrate.service"]["Service"]
    assert (migrate["Type"], migrate["RemainAfterExit"]) == ("oneshot", "yes")
    assert UNITS["recorda-reminders.timer"]["Timer"]["Unit"] == "recorda-reminders.service"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_units():
    """Every key known, every value parsed; only the paths of a server
    (/opt/recorda) are missing here."""
    files = sorted(str(p) for p in SYSTEMD.iterdir())
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", *files], capture_output=True, text=True,
                          timeout=120)
    complaints = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()
                  and not re.search(rf"Command {INSTALL_DIR}/\S+ is not executable", line)]
    assert not complaints, "\n".join(complaints)
    for name, unit in UNITS.items():
        if name.endswith(".timer"):
            calendar = subprocess.run(["systemd-analyze", "calendar", unit["Timer"]["OnCalendar"]],
                                      capture_output=True, text=True, timeout=30)
            assert calendar.returncode == 0, calendar.stderr


def upstream_ports() -> Dict[str, List[Tuple[str, int]]]:
    text = NGINX_SITE.read_text()
    return {name: [(host, int(port)) for host, port in re.findall(r"^\s*server ([\d.]+):(\d+)", body, re.M)]
            for name, body in re.findall(r"upstream (\w+) \{(.*?)\}", text, re.S)}


def test_one_server_the_units_nginx_and_the_env_file_agree_on_ports():
    listening = {}
    for name in LONG_RUNNING:
        argv = shlex.split(UNITS[name]["Service"]["ExecStart"])
        address = option(argv, "--host") or option(argv, "--interface")
        if name != "recorda-worker.service":
            assert address == "127.0.0.1", f"{name}: only nginx faces the network"
            listening[name] = int(option(argv, "--port") or "")
    env = env_example_set()
    listening["worker"] = int(env["RECORDA_WORKER_PORT"])
    assert len(set(listening.values())) == len(listening), f"two processes on one port: {listening}"
    upstreams = upstream_ports()
    assert upstreams[NGINX_UPSTREAMS[RASA]] == [("127.0.0.1", listening["recorda-rasa.service"])]
    assert upstreams[NGINX_UPSTREAMS[STATUS]] == [("127.0.0.1", listening["recorda-status.service"])]
    assert upstreams[NGINX_UPSTREAMS[WEB]] == [("127.0.0.1", listening["recorda-web.service"])]
    assert urlsplit(env["RECORDA_RASA_URL"]).port == listening["recorda-rasa.service"]
    assert urlsplit(env["RECORDA_ACTION_URL"]).port == listening["recorda-actions.service"]


# --- nginx ---------------------------------------------------------------------------
def test_the_nginx_site_limits_bodies_as_the_channels_do():
    site = NGINX_SITE.read_text()
    assert re.findall(r"client_max_body_size (\d+);", site) == [str(BODY_LIMIT)]
    for credentials in (PROJECT_ROOT / "credentials.yml", PROJECT_ROOT / "deploy" / "credentials-whatsapp-cloud.yml"):
        [channel] = yaml.safe_load(credentials.read_text()).values()
        assert channel["max_body_bytes"] == BODY_LIMIT, credentials
    for kind in ("webhook", "statuses"):
        [channels] = re.findall(rf"location ~ \^/webhooks/\(([\w|]+)\)/{kind}\$", site)
        assert set(channels.split("|")) == set(WHATSAPP_CHANNELS), kind


def require_nginx() -> None:
    from tests.support.nginx_site import nginx_binary
    if nginx_binary() is None:
        if os.environ.get("RECORDA_REQUIRE_NGINX") == "1":
            pytest.fail("nginx is not installed and RECORDA_REQUIRE_NGINX=1 (apt-get install nginx)")
        pytest.skip("nginx is not installed (apt-get install nginx); RECORDA_REQUIRE_NGINX=1 makes this a failure")


def test_nginx_accepts_the_site(tmp_path):
    require_nginx()
    from tests.support.nginx_site import main_config, nginx_command, site_for_test
    site = site_for_test(tmp_path, 8443, 8081, {name: 5000 + i for i, name in enumerate(NGINX_UPSTREAMS.values())})
    done = subprocess.run(nginx_command(tmp_path, main_config(tmp_path, site), "-t"), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    require_nginx()
    from tests.support.nginx_site import running_site
    with running_site(tmp_path_factory.mktemp("nginx"), tuple(NGINX_UPSTREAMS.values())) as running:
        yield running


def test_nginx_sends_each_public_path_to_its_process_and_nothing_else(site, routes):
    names = {upstream: process for process, upstream in NGINX_UPSTREAMS.items()}
    for process_routes in routes.values():
        for pattern, method in sorted(process_routes):
            path = sample_path(pattern[1:])
            before = {name: len(u.requests) for name, u in site.upstreams.items()}
            status, body, _ = site.request(method, path, b"{}" if method == "POST" else b"")
            reached = [names[name] for name, u in site.upstreams.items() if len(u.requests) > before[name]]
            expected = public_process(path)
            if expected is None:
                assert (status, reached) == (404, []), f"{method} {path} is public"
            else:
                assert (status, reached) == (200, [expected]), f"{method} {path}: {status}, reached {reached}"


def test_nginx_tells_the_processes_who_called(site):
    status, _, _ = site.request("POST", "/webhooks/messagebird/webhook", b"{}",
                                {"X-Forwarded-For": "203.0.113.9"})
    assert status == 200
    seen = site.upstreams[NGINX_UPSTREAMS[RASA]].requests[-1]["headers"]
    assert seen["host"] == "cita.example.org" and seen["x-forwarded-proto"] == "https"
    # The last address is the one nginx saw: the one RECORDA_PROXIES_COUNT=1 trusts.
    assert seen["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"


def test_nginx_refuses_bodies_larger_than_the_channels_read(site):
    rasa = site.upstreams[NGINX_UPSTREAMS[RASA]]
    status, _, _ = site.request("POST", "/webhooks/messagebird/webhook", b"x" * BODY_LIMIT)
    assert status == 200 and rasa.requests[-1]["body_length"] == BODY_LIMIT
    count = len(rasa.requests)
    status, _, _ = site.request("POST", "/webhooks/messagebird/webhook", b"x" * (BODY_LIMIT + 1))
    assert status == 413 and len(rasa.requests) == count
    status, _, _ = site.request("DELETE", "/webhooks/messagebird/webhook")
    assert status == 403 and len(rasa.requests) == count


def test_nginx_moves_plain_http_to_https_and_logs_no_credential(site):
    status, _, headers = site.request("GET", "/c/some-token", https=False)
    assert status == 301 and headers["location"] == "https://cita.example.org/c/some-token"
    token = "eyJhbGciOiJIUzI1NiJ9.personal-link.signature"
    assert site.request("GET", f"/c/{token}")[0] == 200
    verify = "the-verify-token-of-meta"
    assert site.request("GET", f"/webhooks/whatsapp_cloud/webhook?hub.mode=subscribe&hub.verify_token={verify}"
                               "&hub.challenge=42")[0] == 200
    log = site.access_log()
    assert "GET /webhooks/whatsapp_cloud/webhook" in log
    assert token not in log and verify not in log
