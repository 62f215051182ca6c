"""Which approved template a reminder is sent with: its office's touch
(offices.yml `touches`) and, in a wording experiment, its appointment's
variant. Templates are named by their file in whatsapp_templates/."""
from __future__ import annotations

import logging
from typing import List, Optional

from bot.messaging.templates import REMINDER_FILE, provider_name
from bot.offices.settings import configured_offices, for_office
from bot.reminders.records import Reminder

log = logging.getLogger(__name__)


def reminder_template(reminder: Optional[Reminder]) -> str:
    """The template file of a reminder's current send; the default reminder
    for one the job did not schedule (triggered by hand)."""
    if reminder is None:
        return REMINDER_FILE
    name = for_office(reminder.office_id).template(reminder.touch, reminder.variant)
    try:
        provider_name(name)
    except KeyError:
        # offices.yml names a template the project lacks (missing_templates()
        # lists them; a test checks the repository's): the default beats silence.
        log.error("offices.yml names the template %s, which whatsapp_templates/ lacks; "
                  "the default reminder is sent", name)
        return REMINDER_FILE
    return name


def missing_templates() -> List[str]:
    """The templates offices.yml names that whatsapp_templates/ lacks, as
    "office: template" (empty when every one exists)."""
    missing = []
    for office_id in [None, *configured_offices()]:
        settings = for_office(office_id)
        names = {touch.template for touch in settings.touches}
        if settings.experiment:
            names |= {name for templates in settings.experiment.variants.values() for name in templates.values()}
        for name in sorted(names):
            try:
                provider_name(name)
            except KeyError:
                missing.append(f"{office_id or 'defaults'}: {name}")
    return missing
