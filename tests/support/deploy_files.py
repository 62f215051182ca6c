"""Reading Recorda's deployment files (deploy/) for tests/unit/test_deploy_files.py:
the Kubernetes documents, the systemd units, the environment file, and the
environment variables that Recorda's code and Rasa really read (found in
their source, so a deploy file that names a variable nothing reads fails)."""
from __future__ import annotations

import ast
import configparser
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Set, Tuple

import yaml

from bot.foundation.settings import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
SYSTEMD = DEPLOY / "systemd"
NGINX_SITE = DEPLOY / "nginx" / "recorda.conf"
ENV_EXAMPLE = DEPLOY / "recorda.env.example"
ENDPOINTS = DEPLOY / "endpoints.yml"
# Where the units and the image keep the repository.
INSTALL_DIR = "/opt/recorda"
VENV_PYTHON = f"{INSTALL_DIR}/.venv/bin/python"

ENV_LINE = re.compile(r"^#?([A-Z][A-Z0-9_]*)=(.*)$")
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
SHELL_REFERENCE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}|\$([A-Z][A-Z0-9_]*)")
KUBERNETES_REFERENCE = re.compile(r"\$\(([A-Z][A-Z0-9_]*)\)")


# --- the files ----------------------------------------------------------------
@dataclass(frozen=True)
class Document:
    file: str
    body: dict

    @property
    def kind(self) -> str:
        return self.body["kind"]

    @property
    def name(self) -> str:
        return self.body["metadata"]["name"]

    def __str__(self) -> str:
        return f"{self.file}:{self.kind}/{self.name}"


def kubernetes_documents() -> List[Document]:
    documents = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for body in yaml.safe_load_all(path.read_text()):
            if body is not None:
                documents.append(Document(path.name, body))
    return documents


def pod_specs(documents: Iterable[Document]) -> Iterator[Tuple[Document, dict]]:
    """Every pod template: Deployments', Jobs' and CronJobs'."""
    for doc in documents:
        if doc.kind in ("Deployment", "Job"):
            yield doc, doc.body["spec"]["template"]["spec"]
        elif doc.kind == "CronJob":
            yield doc, doc.body["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def containers(spec: dict) -> List[dict]:
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def systemd_units() -> Dict[str, configparser.ConfigParser]:
    """Each unit file parsed as systemd reads it: sections of Key=value,
    a repeated key in one section being an error here."""
    units = {}
    for path in sorted(SYSTEMD.iterdir()):
        parser = configparser.ConfigParser(interpolation=None, strict=True, delimiters=("=",),
                                           comment_prefixes=("#", ";"), empty_lines_in_values=False)
        parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
        parser.read_string(path.read_text(), source=str(path))
        units[path.name] = parser
    return units


def env_example() -> Dict[str, str]:
    """NAME -> value of every line of recorda.env.example, commented-out ones too."""
    return {m.group(1): m.group(2) for m in map(ENV_LINE.match, ENV_EXAMPLE.read_text().splitlines()) if m}


def env_example_set() -> Dict[str, str]:
    """Only the lines that are not commented out: what the processes get."""
    return {m.group(1): m.group(2) for m in map(ENV_LINE.match, ENV_EXAMPLE.read_text().splitlines())
            if m and not m.group(0).startswith("#")}


def endpoints_variables() -> Set[str]:
    """The ${VARIABLES} of deploy/endpoints.yml, which Rasa expands when it loads it."""
    values = "\n".join(line.split("#", 1)[0] for line in ENDPOINTS.read_text().splitlines())
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", values))


def python_module(argv: List[str]) -> Optional[str]:
    """X of `... -m X ...`."""
    return argv[argv.index("-m") + 1] if "-m" in argv else None


def option(argv: List[str], name: str) -> Optional[str]:
    """The value of `--name value` or `--name=value` in argv."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


# --- the variables the code reads ---------------------------------------------
def _is_os_environ(node: ast.AST) -> bool:
    return ((isinstance(node, ast.Attribute) and node.attr == "environ"
             and isinstance(node.value, ast.Name) and node.value.id == "os")
            or (isinstance(node, ast.Name) and node.id == "environ"))


@dataclass
class _Module:
    tree: ast.Module
    constants: Dict[str, Tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for node in self.tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                values = _strings(node.value)
                if values:
                    self.constants[node.targets[0].id] = values


def _strings(node: ast.AST) -> Tuple[str, ...]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return (node.value,)
    if isinstance(node, (ast.Tuple, ast.List)) and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
        return tuple(e.value for e in node.elts)  # type: ignore[attr-defined]
    return ()


class _EnvironmentReads(ast.NodeVisitor):
    """The first arguments of os.environ.get/[]/pop/setdefault, os.getenv,
    `in os.environ`, settings' _env(), and the <prefix><KEY> variables of
    connectors' ChannelSettings(credentials, "<prefix>", ...)."""

    def __init__(self, module: _Module, resolve) -> None:
        self.module, self.resolve = module, resolve
        self.names: Set[str] = set()
        self.channel_settings: Dict[str, str] = {}   # variable -> prefix, within the module

    def _add(self, node: ast.AST) -> None:
        for value in self.resolve(self.module, node):
            if ENV_NAME.match(value):
                self.names.add(value)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if node.args and (
                (isinstance(func, ast.Attribute) and func.attr in ("get", "pop", "setdefault")
                 and _is_os_environ(func.value))
                or (isinstance(func, ast.Attribute) and func.attr == "getenv")
                or (isinstance(func, ast.Name) and func.id in ("getenv", "_env"))):
            self._add(node.args[0])
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and func.value.id in self.channel_settings and func.attr in ("get", "mapping", "require")):
            prefix = self.channel_settings[func.value.id]
            for arg in node.args if func.attr == "require" else node.args[:1]:
                target = arg.value if isinstance(arg, ast.Starred) else arg
                for key in self.resolve(self.module, target):
                    self.names.add(prefix + key.upper())
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        value = node.value
        if (isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "ChannelSettings"
                and len(value.args) >= 2 and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            for prefix in self.resolve(self.module, value.args[1]):
                self.channel_settings[node.targets[0].id] = prefix
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if _is_os_environ(node.value):
            self._add(node.slice)
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        if (len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn))
                and _is_os_environ(node.comparators[0])):
            self._add(node.left)
        self.generic_visit(node)


def environment_names_read(files: Iterable[Path]) -> Set[str]:
    """The names of the environment variables the code in `files` reads,
    literally or through a module-level constant (of that module, or of any
    of `files`: `from x import ENV_NAME`)."""
    modules = []
    for path in files:
        try:
            modules.append(_Module(ast.parse(path.read_text(encoding="utf-8", errors="replace"))))
        except SyntaxError:
            continue
    everywhere: Dict[str, Set[str]] = {}
    for module in modules:
        for name, values in module.constants.items():
            everywhere.setdefault(name, set()).update(values)

    def resolve(module: _Module, node: ast.AST) -> Tuple[str, ...]:
        literal = _strings(node)
        if literal:
            return literal
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
        if name is None:
            return ()
        if name in module.constants:
            return module.constants[name]
        return tuple(everywhere.get(name, ()))

    names: Set[str] = set()
    for module in modules:
        visitor = _EnvironmentReads(module, resolve)
        visitor.visit(module.tree)
        names |= visitor.names
    return names


def python_files(*roots: Path, excluding: Iterable[Path] = ()) -> List[Path]:
    excluded = [p.resolve() for p in excluding]
    return [p for root in roots for p in sorted(root.rglob("*.py"))
            if not any(p.resolve().is_relative_to(e) for e in excluded)]


def recorda_production_code() -> List[Path]:
    """What a town runs: never bot/dev (the sandbox and `make run`)."""
    roots = [PROJECT_ROOT / d for d in ("bot", "actions", "connectors", "components")]
    return python_files(*roots, excluding=[PROJECT_ROOT / "bot" / "dev"])


def names_read_by_python_interpreter() -> Set[str]:
    """PYTHON* variables the interpreter itself documents in `python -h`."""
    help_text = subprocess.run([sys.executable, "-h"], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"\bPYTHON[A-Z]+\b", help_text))


def names_read_by_scripts(*scripts: Path) -> Set[str]:
    return {a or b for script in scripts for a, b in SHELL_REFERENCE.findall(script.read_text())}


# --- Ingress routing ------------------------------------------------------------
def ingress_backend(ingress: dict, path: str) -> Optional[Tuple[str, int]]:
    """(service, port) the Ingress sends `path` to, as Kubernetes defines
    it: an Exact match first, else the longest Prefix match by whole path
    elements; None: no rule (the controller's 404)."""
    best: Optional[Tuple[int, Tuple[str, int]]] = None
    for rule in ingress["spec"]["rules"]:
        for entry in rule["http"]["paths"]:
            service = entry["backend"]["service"]
            target = (service["name"], service["port"]["number"])
            rule_path = entry["path"]
            if entry["pathType"] == "Exact":
                if path == rule_path:
                    return target
            elif entry["pathType"] == "Prefix":
                elements = [e for e in rule_path.split("/") if e]
                if [e for e in path.split("/") if e][:len(elements)] == elements:
                    if best is None or len(elements) > best[0]:
                        best = (len(elements), target)
            else:
                raise AssertionError(f"pathType {entry['pathType']} of {rule_path}: use Exact or Prefix")
    return best[1] if best else None


def sample_path(route: str) -> str:
    """A concrete path for a Sanic route pattern such as c/<token:str>."""
    samples = {"int": "7", "path": "css/app.css"}

    def fill(match: re.Match) -> str:
        kind = match.group(2) or "str"
        return samples.get(kind, "sample-token")
    return "/" + re.sub(r"<([^:>]+)(?::([^>]+))?>", fill, route)
