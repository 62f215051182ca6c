"""What the project's NLU already has, as the review checks a label and an
export against it: the intents an editor may choose (domain.yml) and the
messages of the training data (data/) and of the held-out evaluation set."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import FrozenSet, List, Set

from bot.console.domain import DOMAIN_PATH, typed_intents
from bot.console.nlu_review_texts import loose_key
from bot.nlu.training_files import DATA_DIR, HOLDOUT_DIR, examples_under

IGNORE = "ignore"                 # the editor's choice for "not training data"
OUT_OF_SCOPE = "out_of_scope"     # the domain's intent for "not something we handle"


@dataclass(frozen=True)
class ProjectNlu:
    """The project's NLU files, read on every use: they are small and an
    editor may have just merged an export."""
    domain_path: Path = DOMAIN_PATH
    data_dir: Path = DATA_DIR
    holdout_dir: Path = HOLDOUT_DIR

    def intents(self) -> List[str]:
        return typed_intents(self.domain_path)

    def choices(self) -> List[str]:
        """What the editor may pick for a message: an intent, or IGNORE."""
        return self.intents() + [IGNORE]

    def training_keys(self) -> Set[str]:
        return {loose_key(text) for _, text in examples_under(self.data_dir, "**/*.yml")}

    def holdout_keys(self) -> Set[str]:
        return {loose_key(text) for _, text in examples_under(self.holdout_dir, "holdout_*.yml")}

    def known(self) -> "KnownTexts":
        return KnownTexts(frozenset(self.intents()), frozenset(self.training_keys()),
                          frozenset(self.holdout_keys()))


@dataclass(frozen=True)
class KnownTexts:
    """What an export is checked against, read once for both export scopes."""
    intents: FrozenSet[str]
    training: FrozenSet[str]     # loose keys of data/ examples
    holdout: FrozenSet[str]      # loose keys of the held-out evaluation set
