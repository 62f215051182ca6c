"""A citizen's message as the NLU review handles it: tidied, made the key
that groups the same text, compared loosely with the project's examples,
and written as a line of Rasa training data."""
from __future__ import annotations

import hashlib
import re
import unicodedata


def tidy(text: str) -> str:
    """The message on one line: surrounding spaces gone, runs of spaces,
    tabs and line breaks made one space."""
    return " ".join((text or "").split())


def normalise(text: str) -> str:
    """What makes two messages "the same text" on the review page."""
    return tidy(text).casefold()


def text_key(text: str) -> str:
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()


def loose_key(text: str) -> str:
    """Lower case, no accents, punctuation and emoji as spaces: the way
    tests/unit/test_nlu_eval.py compares the held-out set with the training
    data (data/nlu/*.yml says: no copies that differ only by case or
    punctuation). A message of emoji only keeps its own characters, so 👍
    is not 👌."""
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", " ", folded).strip() or normalise(text)


def training_example(text: str) -> str:
    """The message as a line of a Rasa `examples: |` block.

    Rasa reads [words](entity), [words]{"entity": ...} and [words][...] in an
    example as entity annotations; every one of them starts with "[", so
    square brackets become round ones and nothing is read as an entity
    (round brackets and braces alone mean nothing to Rasa). Characters YAML
    does not allow in a file (control characters, a byte-order mark, lone
    surrogates) are dropped, and line breaks were already made spaces."""
    line = tidy(text).replace("[", "(").replace("]", ")")
    return "".join(c for c in line if _yaml_printable(c)).strip()


def _yaml_printable(char: str) -> bool:
    code = ord(char)
    if char == "\ufeff" or unicodedata.category(char) in ("Cc", "Cs"):
        return False
    return code not in (0xFFFE, 0xFFFF)
