"""The sandbox's citizens, shared by the booking service (who has an
appointment) and the WhatsApp simulator (who has WhatsApp at all)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Citizen:
    name: str
    phone: str        # as a clerk typed it into the booking system
    language: str     # ca | es | en
    has_whatsapp: bool = True


CITIZENS = [
    Citizen("Montserrat Puig i Ferrer", "612 345 678", "ca"),
    Citizen("Jordi Vila Soler", "+34 623 456 789", "ca"),
    Citizen("Núria Casals Roig", "634567890", "ca"),
    Citizen("Pere Martí Bosch", "645 67 89 01", "ca"),
    Citizen("Laia Serra Font", "656789012", "ca"),
    Citizen("Marc Riera Costa", "0034 667 890 123", "ca"),
    Citizen("Carme Sala Pujol", "678901234", "ca"),
    Citizen("Oriol Ferrer Mas", "689012345", "ca"),
    Citizen("María García López", "611 223 344", "es"),
    Citizen("José Fernández Ruiz", "622334455", "es"),
    Citizen("Lucía Martínez Sánchez", "+34633445566", "es"),
    Citizen("Antonio Pérez Gómez", "644556677", "es"),
    Citizen("Carmen Rodríguez Díaz", "655 66 77 88", "es"),
    Citizen("Youssef El Amrani", "666778899", "es"),
    Citizen("Emily Thompson", "677 88 99 00", "en"),
    Citizen("Daniel O'Connor", "+34 688 990 011", "en"),
    Citizen("Priya Sharma", "699001122", "en"),
    # Edge cases the daily job must handle without sending anything wrong.
    Citizen("Rosa Vidal Camps", "93 123 45 67", "ca"),            # landline
    Citizen("Francisco Moreno Gil", "91 234 56 78", "es"),        # landline (Madrid)
    Citizen("Albert Roca Prat", "61234", "ca"),                   # malformed
    Citizen("Isabel Navarro Ortiz", "", "es"),                    # no number at all
    Citizen("Teresa Solé Vives", "619 283 746", "ca", has_whatsapp=False),
    Citizen("Manuel Jiménez Castro", "628 374 651", "es", has_whatsapp=False),
    Citizen("Oliver Brown", "+44 7911 123456", "en"),             # UK mobile
]


def numbers_without_whatsapp(region: str = "ES") -> set:
    """E.164 numbers the simulator treats as having no WhatsApp account."""
    from bot.foundation.phone import to_e164
    return {to_e164(c.phone, region) for c in CITIZENS if not c.has_whatsapp}
