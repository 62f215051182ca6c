"""The console speaks Catalan, Spanish and English: every word a page uses
exists in all three."""
from __future__ import annotations

import re

from bot.apps.web.console.texts import Translator, all_texts, choose_language, missing_translations
from bot.foundation.languages import LANGUAGES
from tests.support import ROOT

CONSOLE = ROOT / "bot" / "apps" / "web" / "console"
# t("key") / t('key') in templates and page modules; keys built at run time
# (t("role_" ~ role)) are checked where their parts are listed.
USED_KEY = re.compile(r"""\bt\(\s*["']([a-z0-9_]+)["']\s*[,)]""")


def used_keys():
    for path in list(CONSOLE.glob("templates/*.html")) + list(CONSOLE.glob("*.py")):
        for key in USED_KEY.findall(path.read_text(encoding="utf-8")):
            yield path.name, key


def test_every_text_has_catalan_spanish_and_english():
    assert missing_translations() == {}


def test_every_key_a_page_uses_is_defined():
    texts = all_texts()
    assert [(where, key) for where, key in used_keys() if key not in texts] == []


def test_roles_and_languages_have_names_in_every_language():
    for key in ["role_staff", "role_editor", "role_admin"] + [f"language_{code}" for code in LANGUAGES]:
        for language in LANGUAGES:
            assert Translator(language)(key) != key


def test_the_browser_language_is_followed_unless_one_is_chosen():
    assert choose_language(None, "es-ES,es;q=0.9,en;q=0.8") == "es"
    assert choose_language(None, "en-GB,en;q=0.9") == "en"
    assert choose_language(None, "fr-FR") == "ca"
    assert choose_language("en", "es-ES") == "en"
    assert choose_language("de", "es-ES") == "es"
