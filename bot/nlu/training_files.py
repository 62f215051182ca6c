"""The project's NLU files read as data: the training examples under data/
and the held-out evaluation set (tests/nlu/holdout_<language>.yml, written
apart from the training data and never trained on).

    DATA_DIR, HOLDOUT_DIR
    nlu_examples(content)            (intent, text) of a parsed NLU file
    examples_under(directory, glob)  the same for every file that reads
    load_holdout(directory)          the held-out set, as Example

An example is read as Rasa reads a line of an `examples: |` block (or the
long form, `- text: ...`), its entity annotations made plain words.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, List, Tuple

import yaml

from bot.foundation.settings import PROJECT_ROOT

DATA_DIR = PROJECT_ROOT / "data"
HOLDOUT_DIR = PROJECT_ROOT / "tests" / "nlu"
# libyaml when the system has it: the console reads data/ on every page view.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# [words](entity), [words]{"entity": ...} and [words][...]: Rasa's annotations.
_ENTITY_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\}|\[[^\]]*\])")


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    language: str


def read_nlu_file(path: Path) -> Any:
    """The parsed YAML of an NLU file; OSError or yaml.YAMLError when it
    cannot be read."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)


def nlu_examples(content: Any) -> Iterator[Tuple[str, str]]:
    """(intent, text) of every example of a parsed NLU file; items that are
    no intent (emoji.yml's regex features, synonyms) give none."""
    for item in (content.get("nlu") or []) if isinstance(content, dict) else []:
        if isinstance(item, dict) and "intent" in item:
            for text in _item_examples(item.get("examples")):
                yield str(item["intent"]), text


def examples_under(directory: Path, pattern: str) -> Iterator[Tuple[str, str]]:
    """(intent, text) of the examples of the files matching `pattern` under
    `directory`. A file that does not read adds nothing: `rasa data
    validate` is what reports it."""
    for path in sorted(directory.glob(pattern)):
        try:
            content = read_nlu_file(path)
        except (OSError, yaml.YAMLError):
            continue
        yield from nlu_examples(content)


def load_holdout(directory: Path = HOLDOUT_DIR) -> List[Example]:
    """The held-out set, from holdout_<language>.yml files; a file that does
    not read is an error (the evaluation would score less than it says)."""
    examples = []
    for path in sorted(directory.glob("holdout_*.yml")):
        language = path.stem.split("_", 1)[1]
        examples += [Example(text, intent, language) for intent, text in nlu_examples(read_nlu_file(path))]
    return examples


def _item_examples(examples: Any) -> Iterable[str]:
    if isinstance(examples, str):
        lines = [line.strip() for line in examples.splitlines()]
        texts = [line[1:] for line in lines if line.startswith("-")]
    elif isinstance(examples, list):  # the long form: - text: ...
        texts = [str(e.get("text", "")) if isinstance(e, dict) else str(e) for e in examples]
    else:
        texts = []
    for text in texts:
        plain = _ENTITY_ANNOTATION.sub(r"\1", text).strip()
        if plain:
            yield plain
