"""The WhatsApp templates Recorda uses (whatsapp_templates/*.yml): read by
the WhatsApp simulator, which renders and checks them as the platform would,
and by the reminder action, which puts the citizen's reading of the reminder
in the transcript and on non-WhatsApp channels."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

from bot.foundation.settings import PROJECT_ROOT

TEMPLATES_DIR = PROJECT_ROOT / "whatsapp_templates"
REMINDER_TEMPLATE = "recorda_appointment_reminder"
# Templates are named in Recorda (offices.yml, the actions) by their file,
# whatsapp_templates/<file name>.yml, and at the provider by the `name` the
# file declares. The default reminder's provider name is a channel setting.
REMINDER_FILE = "appointment_reminder"
_PLACEHOLDER = re.compile(r"\{\{(\d+)\}\}")


@dataclass(frozen=True)
class TemplateText:
    """One language of an approved WhatsApp template."""
    body: str
    buttons: Tuple[str, ...]

    @property
    def parameter_count(self) -> int:
        return len(set(_PLACEHOLDER.findall(self.body)))

    def render(self, parameters: List[str]) -> str:
        return _PLACEHOLDER.sub(lambda m: str(parameters[int(m.group(1)) - 1]), self.body)


def load_templates(directory: Path = TEMPLATES_DIR) -> Dict[str, Dict[str, TemplateText]]:
    """{template name: {language code: text}} from the template files."""
    templates = {}
    for path in sorted(directory.glob("*.yml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        templates[spec["name"]] = {
            code: TemplateText(language["body"], tuple(language.get("buttons", ())))
            for code, language in spec["languages"].items()}
    return templates


def find_template(templates: dict, name: str, code: str) -> Optional[TemplateText]:
    """The template in that language; "es_ES" falls back to "es"."""
    languages = templates.get(name, {})
    return languages.get(code) or languages.get(re.split(r"[_-]", code)[0])


@functools.lru_cache(maxsize=1)
def _project_templates() -> Dict[str, Dict[str, TemplateText]]:
    return load_templates()


@functools.lru_cache(maxsize=64)
def provider_name(file_name: str, directory: Path = TEMPLATES_DIR) -> str:
    """The provider's name of whatsapp_templates/<file_name>.yml; KeyError
    for a template the project does not have."""
    path = directory / f"{file_name}.yml"
    if not re.fullmatch(r"[a-z0-9_-]+", file_name) or not path.is_file():
        raise KeyError(f"whatsapp_templates/ has no {file_name}.yml")
    return str(yaml.safe_load(path.read_text(encoding="utf-8"))["name"])


def render_body(language: str, parameters: List[str], name: str = REMINDER_TEMPLATE) -> str:
    """The template's body in `language` with its parameters filled in."""
    template = find_template(_project_templates(), name, language)
    if template is None:
        raise KeyError(f"whatsapp_templates/ has no template {name!r} in {language!r}")
    return template.render(parameters)
