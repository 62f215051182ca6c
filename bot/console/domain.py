"""The assistant's intents as domain.yml lists them, for the console's
filters and the NLU review's choices."""
from __future__ import annotations

from pathlib import Path
from typing import List

import yaml

from bot.foundation.settings import PROJECT_ROOT

DOMAIN_PATH = PROJECT_ROOT / "domain.yml"
# libyaml when the system has it.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def typed_intents(domain_path: Path = DOMAIN_PATH) -> List[str]:
    """The domain's intents in its order, without the EXTERNAL_* ones that
    Recorda sends itself and nobody types."""
    domain = yaml.load(Path(domain_path).read_text(encoding="utf-8"), Loader=_YAML_LOADER) or {}
    names = []
    for entry in domain.get("intents") or []:
        name = next(iter(entry)) if isinstance(entry, dict) else str(entry)
        if not name.startswith("EXTERNAL_"):
            names.append(name)
    return names
