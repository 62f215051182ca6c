"""Which of Catalan, Spanish and English a citizen's message is written in.

Short WhatsApp messages defeat statistical detectors, and no model for
Catalan ships offline, so this scores the words that tell the three apart
(function words, common verbs, family and illness words, spellings such as
"l·l", "-ho", "ñ", "¿", "-ció" / "-ción", "à" / "á") and answers only when the
evidence is clear. "ok", "si", "no" or "👍" say nothing, and the
conversation keeps the language it had (`follow`): the language follows the
citizen both ways, from the latest message that shows one.

What it must never do is name the wrong language, so a word goes into a list
only when it is rare in the two other languages *as citizens of a Catalan
town really write them*: without accents ("esta" is Spanish "esta" and
Catalan "està"; "podre" is both "podré"), with the Spanish words Catalan
speakers use every day ("vale", "bueno", "porfa", "igual", "anular", "curro")
and the Catalan ones Spanish speakers use ("adeu", "merci"). Those words are
in no list. Measure any change on the labelled messages:

    python -m bot.nlu.language --measure
"""
from __future__ import annotations

import re
import sys
import unicodedata
from typing import Dict, Iterable, List, Optional

from bot.foundation.languages import LANGUAGES

# Words typical of one language and rare in the others, in lower case and
# without accents (citizens often type none; "·" is kept). A pair of words is
# written "a_b" and counts in addition to its words.
_WORDS = {
    "ca": """
        vull vols vol volem voleu voldria voldriem puc pots pot podem podeu poden podrem
        podrieu pugui puguem puguis serem sereu sigui siguin soc som sou
        estic estem esteu estigui estiguem
        vaig vam vau anar anem aneu anire anirem aniria anireu anira aniran vagi
        vinc vindre vindrem vindra vindran vingui vinguem vinguis vingueu venim veniu
        arribo arribem arribare arribarem arribar arribi
        faig fem feu fare farem fer fa_tard
        tinc tens tenim teniu tenen tingui tindre tindrem
        dic diu dieu dir digueu sap saps sabeu sabem
        cal calen necessito necessitem necessita necessiten necessitaria
        demanar demano demanat demaneu canviar canvi canvieu canviem canviat
        portar porto porteu dur duc
        anullar anulla anulleu anullin anulli anullo anuleu anulin anulat anulada
        cancelleu cancellin cancellar cancellat cancellada canceleu
        esborreu esborrar traieu treieu treure alliberi allibereu
        treballo treballar treballa treball feina feines
        malalt malalta malalts febre metge metgessa ingressat ingressada baixa
        nen nens nenes filla filles mare avi avia germa germana marit sogra sogre parella
        meu meva meus meves teu teva seu seva seus seves nostre nostra vostre vostra
        jo nosaltres vosaltres ells elles
        amb pel pels dels als uns unes els ho em ens li
        aquest aquesta aquests aquestes aquell aquella aixo allo alla
        ara encara tambe doncs gaire molt molta molts moltes mateix mateixa
        avui dema ahir despres abans aviat sempre mai res gens prou massa gairebe
        tot tots tota totes potser perque fins sense cap_a mica lloc algu ningu
        ja ostres vinga apa
        quan quin quina quins quines on_es
        setmana mati tarda vespre nit migdia
        dilluns dimarts dimecres dijous divendres dissabte diumenge
        gener febrer maig juny juliol agost setembre novembre desembre
        gracies merces bon bona bones bon_dia bona_tarda si_us_plau sisplau siusplau per_favor
        adeu_siau fins_dema fins_aviat a_reveure
        tramit ajuntament adreca carrer aparcament horari obriu obre obert oberta tanqueu tanca tancat
        retard tard endarrerit trucar truqueu truqui parlar
        dubto segur veurem veure
        senyor senyora anys lluny bany companya espanya
        no_hi hi_sere hi_serem hi_som hi_vaig hi_anire hi_anirem hi_anem hi_podre hi_puc hi_ha
        hi_haura hi_vindre hi_arribo hi_seras hi_sera hi_seran us_dic us_dire us_ho
        us_avisare us_confirmo us_escric us_truco
        ets comptin compteu comptar mantenir mantenim assistencia agradaria ajornar avancar
        recordes recordo passar poc vegada vegades cops altra altre altres
        nou nova lliure trobo trobar principi veiem tranquils dubtes mentre sortir surto
        deixar deixo prop quant peu agafar padro targeta llibre lloguer contracte escriptura
        fotocopies conduir rebut aigua llum brossa escombraries gos arbre vorera fanal soroll
        veins festa pis blava estiu hivern festiu oberts tanquen endavant quants habitants
        truita guanyar partit acudit avorreixo
    """,
    "es": """
        quiero quieres quiere queremos quisiera queria puedo puedes puede pueden podemos podeis
        podras podremos pueda puedas podamos
        soy somos sois sea estoy estamos estais estare estaremos este estos eso esto
        voy vamos vais ire iremos ira iran ir vaya vayamos
        vengo vienes viene venimos vendremos llego llegamos llegare llegaremos llegar
        hago hacemos hace hacer hare haremos hay habra
        tengo tienes tiene tienen tenemos
        digo dice decir sabe sabes sabemos sepa
        necesito necesitamos necesita necesitaria hace_falta
        pedir pido cambiar cambio cambiarla traer llevar llevo
        anulen anule anulela anularla anulenla anulad anuleis cancelen cancele cancelela
        cancelarla cancelenla cancelad quitar quiten quitenme borren borrar
        trabajo trabajar trabaja
        enfermo enferma fiebre medico hospitalizado ingresado ingresada
        nino nina ninos ninas hijo hija hijos hijas madre padre abuela abuelo hermano hermana
        marido mujer esposa suegra suegro mi_cita mi_hijo mi_hija mi_madre mi_padre
        mis su sus nuestro nuestra vuestro vuestra yo nosotros vosotros ellos ellas
        con para por porque los las lo le os muy mucho mucha muchos muchas mas algo aparte
        todo toda todos todas nada alli ahi ahora todavia aun tambien luego despues antes
        pronto siempre nunca ya quizas quiza mejor bien pues sin
        donde cuando cual cuales cuanto cuanta como quien
        semana manana hoy ayer tarde noche mediodia
        lunes martes miercoles jueves viernes sabado domingo
        enero febrero marzo mayo junio julio agosto septiembre noviembre diciembre
        gracias buenos buenas buen buena dias adios hasta hasta_luego por_favor
        tramite ayuntamiento direccion ubicacion calle aparcamiento horario abren abris
        abierto abierta cierran cerrado documentos papeles
        retraso llamar llamen llameme hablar alguien nadie
        seguro veremos vere
        eres vemos nos anules anulala cancelala asistencia asistir acudir conmigo contigo
        cuente cuenten gustaria aplazar adelantar recuerdas recuerdo acuerdo cerca sirve
        semaforo roto parque desde enciende perro agradezco verdad dormido retrasado
        solicitar nueva nuevo liberen imposible desisto libre encuentro principio supuesto
        senora otra otro otros otras poco vez pasar cambiame padron tarjeta alquiler mantengo
        borrenme sigue mismo sitio playa plaza empiezan atender abre cuentame chiste robado
        fotocopias recibo luz agua basura vecinos fiesta piso verano invierno festivo
    """,
    "en": """
        i'm im i'll i've ive i'd dont don't can't cant won't wont didnt didn't doesnt doesn't
        isnt isn't it's that's what's there's let's
        you your you're youre we we're our they them she it its
        the an and or of to for with at in by from about into
        is are am was were been being will would can could should shall may might must
        do does did have has had get got go goes going come coming make made
        this that these those there here what when where which who whom how why
        not yes yeah yep yup nope please pls plz thanks thank thx ty sorry
        tomorrow tmrw tmr today tonight yesterday morning afternoon evening night week
        time late early appointment appointments appt booking booked book slot
        office address open opening hours bring need needs want like know sure maybe
        still yet just so but if because also too very much all some anything
        again see u ur hello hey bye goodbye good great fine
        daughter kid kids wife husband mum mom dad father mother grandma grandpa
        sick unwell poorly fever flu cold work working shift job travelling traveling
        abroad trip let someone something later soon catch gonna wanna gotta dunno idk tbh btw
        thing things confirm confirmed confirming cancel cancelled
        cancelling attend attending there'll
        be_there be_late will_be to_be be_a can_be might_be won't_be i'll_be i'm_not
        monday tuesday wednesday thursday friday saturday sunday
        january february march april june july august september october november december
    """,
}
_LEXICON: Dict[str, str] = {}
for _language, _text in _WORDS.items():
    for _word in _text.split():
        # A word in two lists tells nothing apart: keep it in neither.
        _LEXICON[_word] = "" if _word in _LEXICON and _LEXICON[_word] != _language else _language

# Spellings that belong to one language (searched in the lower-cased text,
# accents kept).
_MARKS = {
    "ca": re.compile(
        r"l·l|l\.l"                      # anul·lar, cancel·lar
        r"|\b(?:l|d|s|m|n)'[a-zà-ú]"      # l'oficina, d'acord, m'ho
        r"|\w\w[aeiu]'(?:m|t|l|n|ns|ls|ho|hi)\b"  # recorda'm, cuida't
        r"|\w-(?:la|les|lo|los|ho|hi|ne|me|nos|vos|li|te|se|ls|m'ho|n'hi)\b"  # anul·leu-la, anar-hi
        r"|[àèòï]|ç"                      # què, això, veïna, adreça
        r"|ció(?:ns)?\b"                  # informació (Spanish "precio", "servicio": no accent)
        r"|t[gj][ae]"                     # metge, platja, viatge
        r"|[aeou]ix"                      # baixa, deixeu, caixa
        r"|tx(?!t)"                       # cotxe, despatx
    ),
    "es": re.compile(
        r"ñ|[¿¡]|á"                      # mañana, ¿dónde?, está (Catalan has no "á")
        r"|ci[oó]n(?:es)?\b"             # dirección, información
        r"|\by\b"                        # "y" (Catalan "i")
        r"|(?:[aeiíá]n?|[ae]d|[aei]r)(?:me|te|se|le|nos|os)l[ao]s?\b"  # anúlenmela, dímelo
    ),
    "en": re.compile(r"\bi'm\b|n't\b|\b\w+'(?:s|ll|re|ve|d)\b|\bth\w+"),  # I'm, don't, it's, the...
}
# Catalan enclitics after a hyphen ("anul·leu-la", "anar-hi") are dropped
# before the words are looked up: their words ("la", "lo", "me") are shared.
_CLITIC = re.compile(r"(?<=\w)-(?:la|les|lo|los|ho|hi|ne|me|nos|vos|li|te|se|ls|m'ho|n'hi|l'hi)\b")

MIN_WORDS = 2  # a one-word message ("gràcies", "thanks", "vale") never says it
MIN_SCORE = 1.5  # e.g. one telling word and one telling spelling
MIN_MARGIN = 2.0  # the winner must score at least this many times the runner-up
# From this many words on, one telling word or spelling is enough when
# nothing at all points elsewhere ("quiero cancelar la cita", "no podré ir",
# "on és l'oficina?").
LONG_MESSAGE = 3


def _plain(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in text if not unicodedata.combining(c) or c == "·")


def _words(text: str) -> List[str]:
    plain = _plain(_CLITIC.sub(" ", text.lower().replace("’", "'")))
    words = [w.strip("'") for w in re.findall(r"[a-z·']+", plain)]
    # "l·l" typed "l.l" or without the dot ("anul·leu", "anulleu"): one spelling.
    return [w.replace("·", "") for w in words if w]


def scores(text: str, words: Optional[List[str]] = None) -> Dict[str, float]:
    lowered = text.lower().replace("’", "'")
    words = _words(text) if words is None else words
    found = {language: 0.0 for language in LANGUAGES}
    pairs = [f"{a}_{b}" for a, b in zip(words, words[1:])]
    for token in words + pairs:
        if token == "hi":
            # English "hi" opens a message; Catalan "hi" ("no hi seré") is
            # counted through its pairs.
            continue
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
    words = _words(text)
    if len(words) < MIN_WORDS:
        return None
    ranked = sorted(scores(text, words).items(), key=lambda kv: kv[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    if top >= MIN_SCORE and top >= MIN_MARGIN * second:
        return best
    if len(words) >= LONG_MESSAGE and top >= 0.75 and second == 0:
        return best
    return None


def follow(current: Optional[str], text: Optional[str]) -> Optional[str]:
    """The conversation's language after the citizen writes `text`: the
    language the message clearly shows, else the one it had."""
    return detect(text) or current


def _measure(files: Iterable[str]) -> int:  # pragma: no cover - a report for editors
    """Right / wrong / no opinion on labelled NLU files (the language is the
    file's suffix: data/nlu/ca.yml, tests/nlu/holdout_es.yml)."""
    from pathlib import Path

    import yaml

    wrong_total = 0
    for name in files:
        path = Path(name)
        language = path.stem.rsplit("_", 1)[-1]
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        texts = [line.strip()[2:].strip() for item in data.get("nlu", [])
                 for line in item.get("examples", "").splitlines() if line.strip().startswith("- ")]
        detected = [detect(t) for t in texts]
        wrong = [(t, d) for t, d in zip(texts, detected) if d and d != language]
        right = sum(d == language for d in detected)
        wrong_total += len(wrong)
        print(f"{name}: {len(texts)} messages, {right} recognised ({right / max(len(texts), 1):.1%}), "
              f"{len(wrong)} wrong")
        for t, d in wrong:
            print(f"    wrong ({d}): {t}")
    return 1 if wrong_total else 0


if __name__ == "__main__":  # pragma: no cover
    from bot.foundation.settings import PROJECT_ROOT

    if sys.argv[1:2] == ["--measure"]:
        default = [str(PROJECT_ROOT / d / f"{p}{lang}.yml") for d, p in (("data/nlu", ""), ("tests/nlu", "holdout_"))
                   for lang in LANGUAGES]
        sys.exit(_measure(sys.argv[2:] or default))
    for line in sys.argv[1:] or sys.stdin:
        print(detect(line.strip()), scores(line.strip()), line.strip())
