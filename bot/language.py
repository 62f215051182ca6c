"""Which of Catalan, Spanish and English a citizen's message is written in.

Short WhatsApp messages defeat statistical detectors, and no model for
Catalan ships offline, so this scores the words that tell the three apart
(function words, common verbs, spellings such as "l·l", "ny", "ñ", "¿").
It answers only when the evidence is clear; "ok" or "👍" say nothing, and
the conversation keeps the language it had.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Dict, Optional

# Words typical of one language and rare in the others, in lower case and
# without accents (citizens often type none).
_WORDS = {
    "ca": """
        vull voldria puc podre podrem podem hi sere serem anire vindre vindrem arribare
        dema avui ahir gracies merci sisplau plau si_us_plau que_es quin quina quins quines
        quan on es aixo aquesta aquest aquell amb per_a pel dels als les els
        tambe aqui alla ara encara tinc tenim teniu cal puc_anar fer vaig
        anul·lar anul·la anul·leu anul·lis anullar anulla cancel·lar cancel·la
        bon_dia bona bones nit tarda adeu fins aviat molt moltes meva meu seva
        obriu obre obert tancat horari documentacio portar on_es oficina_de
        canviar demanar necessito voldriem sisplau perque pero res cap
        dilluns dimarts dimecres dijous divendres dissabte diumenge
    """,
    "es": """
        quiero quisiera puedo podre podremos podemos ire vendre voy vamos llegare
        manana hoy ayer gracias porfa favor por_favor que_es cual cuales
        cuando donde esto esta este aquel con para del los las
        tambien aqui alli ahora todavia tengo tenemos tiene hay hace hacer fui
        anular anula anulen anule anulela anularla cancelar cancela cancelen
        buenos buenas dias noches tardes adios hasta luego mucho muchas mi
        abren abris abierto cerrado horario documentacion traer llevar oficina
        cambiar pedir necesito queria porque pero nada ningun
        lunes martes miercoles jueves viernes sabado domingo
    """,
    "en": """
        i i'm im i'll ill want would like can could will be there won't wont cant can't
        tomorrow today yesterday thanks thank thx you please pls what which
        when where this that with for the of to my your our is are am
        also here now still have has need do does did going
        cancel cancelled confirm confirmed appointment appt
        good morning evening night hello hi hey bye goodbye see much
        open opens closed hours documents bring office change book
        because but nothing any late running
        monday tuesday wednesday thursday friday saturday sunday
    """,
}
_LEXICON: Dict[str, str] = {}
for _language, _text in _WORDS.items():
    for _word in _text.split():
        # A word in two lists tells nothing apart: keep it in neither.
        _LEXICON[_word] = "" if _word in _LEXICON and _LEXICON[_word] != _language else _language

# Spellings that belong to one language.
_MARKS = {
    "ca": re.compile(r"l·l|l\.l|\b(?:l|d|s|m|n)'[a-zà-ú]|ny\b|[àèò]|ç|\bi\b|tx"),
    "es": re.compile(r"ñ|[¿¡]|ción\b|cion\b|\by\b"),
    "en": re.compile(r"\b\w+'(?:s|t|ll|m|re|ve|d)\b|\bth\w+"),
}

MIN_SCORE = 1.5  # e.g. one telling word and one telling spelling
MIN_MARGIN = 2.0  # the winner must score at least this many times the runner-up


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in text if not unicodedata.combining(c) or c == "·")


def scores(text: str) -> Dict[str, float]:
    lowered = text.lower()
    plain = _plain(text)
    words = re.findall(r"[a-z·']+", plain)
    found = {"ca": 0.0, "es": 0.0, "en": 0.0}
    pairs = [f"{a}_{b}" for a, b in zip(words, words[1:])]
    for token in words + pairs:
        language = _LEXICON.get(token)
        if language:
            found[language] += 1.0
    for language, pattern in _MARKS.items():
        found[language] += 0.75 * len(pattern.findall(lowered))
    return found


def detect(text: Optional[str]) -> Optional[str]:
    """"ca", "es" or "en" when the message clearly is in that language."""
    if not text or text.lstrip().startswith("/"):
        return None
    ranked = sorted(scores(text).items(), key=lambda kv: kv[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    if top >= MIN_SCORE and top >= MIN_MARGIN * second:
        return best
    return None
