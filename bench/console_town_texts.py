"""What the console benchmark's town says (bench/console_town.py): its
citizens' names, what they type besides their answer, and what the
assistant answers them (domain.yml's responses, filled in)."""
from __future__ import annotations

import random

FIRST_NAMES = ("Anna", "Jordi", "Marta", "Pau", "Laia", "Marc", "Núria", "Joan", "Carmen", "José",
               "María", "Antonio", "Fatima", "Mohamed", "Elena", "David", "Montserrat", "Xavier",
               "Lucía", "Sergi", "Olga", "Ahmed", "Rosa", "Albert", "Emma", "Pere", "Irene", "Oriol")
LAST_NAMES = ("Puig", "Garcia", "Martínez", "Soler", "Vidal", "López", "Ferrer", "Serra", "Roca",
              "Sánchez", "Pérez", "Font", "Casas", "Rodríguez", "El Amrani", "Costa", "Riera", "Mas")

# What the assistant answers (domain.yml's responses, filled in).
BOT_TEXTS = {
    "confirmed": {"ca": "Gràcies, {name}! La cita queda confirmada: {when}, a {office}. Us hi esperem.",
                  "es": "¡Gracias, {name}! Su cita queda confirmada: {when}, en {office}. Le esperamos.",
                  "en": "Thank you, {name}! Your appointment is confirmed: {when}, at {office}. See you there."},
    "cancelled": {"ca": "Fet: hem anul·lat la cita del {when}. El lloc ja queda lliure per a una altra "
                        "persona. Si voleu demanar una cita nova: https://www.vilademar.cat/cita-previa",
                  "es": "Hecho: hemos anulado su cita del {when}. El hueco ya está libre para otra persona. "
                        "Si quiere pedir una nueva cita: https://www.vilademar.cat/es/cita-previa",
                  "en": "Done: your appointment on {when} is cancelled, and the slot is free for someone "
                        "else. To book a new appointment: https://www.vilademar.cat/en/appointments"},
    "question": {"ca": "{office}: {address}\n🗺️ https://www.openstreetmap.org/#map=18/41.22/1.72",
                 "es": "{office}: {address}\n🗺️ https://www.openstreetmap.org/#map=18/41.22/1.72",
                 "en": "{office}: {address}\n🗺️ https://www.openstreetmap.org/#map=18/41.22/1.72"},
    "fallback": {"ca": "Perdoneu, no us he entès. Podeu confirmar o anul·lar la cita amb els botons, "
                       "o preguntar-me per l'adreça, l'horari o els documents.",
                 "es": "Perdone, no le he entendido. Puede confirmar o anular la cita con los botones, "
                       "o preguntarme por la dirección, el horario o los documentos.",
                 "en": "Sorry, I did not understand. You can confirm or cancel with the buttons, or ask "
                       "me about the address, opening hours or documents."},
    "human": {"ca": "He avisat el personal de l'oficina perquè revisi aquesta conversa. Si ho preferiu, "
                    "truqueu al 938 100 100 (de 9 a 14 h).",
              "es": "He avisado al personal de la oficina para que revise esta conversación. Si lo "
                    "prefiere, llame al 938 100 100 (de 9 a 14 h).",
              "en": "I have flagged this conversation for the office staff. If you prefer, call "
                    "938 100 100 (9 am to 2 pm)."},
    "media": {"ca": "Ho sento, no puc veure fotos ni àudios. Escriviu-me, si us plau.",
              "es": "Lo siento, no puedo ver fotos ni audios. Escríbame, por favor.",
              "en": "Sorry, I cannot see photos or voice notes. Please write to me."},
}

# What citizens type besides their answer: (intent, texts by language).
QUESTIONS = {
    "ask_location": {"ca": ("on és l'oficina", "a quina adreça és", "on heu dit que és la cita"),
                     "es": ("dónde está la oficina", "cuál es la dirección", "dónde es la cita"),
                     "en": ("where is the office", "what is the address", "where do I have to go")},
    "ask_opening_hours": {"ca": ("a quina hora obriu", "quin horari feu"),
                          "es": ("a qué hora abren", "qué horario tienen"),
                          "en": ("when do you open", "what are your opening hours")},
    "ask_documents": {"ca": ("què he de portar", "cal portar el dni"),
                      "es": ("qué tengo que llevar", "hace falta el dni"),
                      "en": ("what do I need to bring", "do I need my passport")},
    "ask_appointment_details": {"ca": ("a quina hora tinc la cita", "quin dia era la cita"),
                                "es": ("a qué hora tengo la cita", "qué día era la cita"),
                                "en": ("what time is my appointment", "which day was it")},
}
# Messages the NLU cannot place (they hit the fallback).
UNCLEAR = {"ca": ("puc enviar el meu fill en lloc meu", "i si arribo amb el cotxet", "el gos pot entrar",
                  "quant costa", "ja us vaig trucar ahir", "la meva mare no sap fer servir el mòbil"),
           "es": ("puede ir mi hijo en mi lugar", "se puede aparcar cerca", "cuánto cuesta",
                  "ya llamé ayer", "mi madre no sabe usar el móvil", "vale pero y lo del otro día"),
           "en": ("can my son come instead", "is there parking", "how much does it cost",
                  "I called yesterday already", "my mother cannot use the phone")}
OTHER_INTENTS = ("greet", "thank", "goodbye", "inform_late", "reschedule_appointment", "out_of_scope",
                 "bot_challenge", "request_new_appointment")
# What the assistant runs for each question (domain.yml).
QUESTION_ACTIONS = {"ask_location": "action_tell_location", "ask_opening_hours": "action_tell_opening_hours",
                    "ask_documents": "action_tell_documents", "ask_appointment_details": "action_appointment_details"}


def varied(text: str, rng: random.Random) -> str:
    """People type the same thing many ways: a typo, a name, a question
    mark, so that messages are not all the same few texts."""
    if rng.random() < 0.5 and len(text) > 6:
        i = rng.randrange(1, len(text) - 1)
        text = text[:i] + text[i + 1:] if rng.random() < 0.5 else text[:i] + text[i] + text[i:]
    suffix = rng.choice(("", "", "?", " ??", " si us plau", " gràcies", " porfa", " please", " 🙏",
                         f" {rng.choice(FIRST_NAMES).lower()}", f" {rng.randrange(1, 31)}"))
    return (text.capitalize() if rng.random() < 0.4 else text) + suffix

