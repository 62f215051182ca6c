"""How the tests compare NLU examples: two texts that differ only in case,
accents or punctuation are the same example."""
from __future__ import annotations

import re
import unicodedata


def normalised(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"[\W_]+", " ", text).strip()
