"""The wording experiments of offices.yml as admins see them in the console:
each office's experiment, the template every variant sends at each touch
(with its first line in the reader's language), whether new appointments
still get it, and retiring one.

    experiment_offices(booking, served)    the offices to look at, with their names
    office_experiments(...)                what the page shows, and the problems of offices.yml
    retire_variant(...)                    retire one variant, or RetireRefused saying why

Retiring is for good as far as the console goes: only the database or a new
experiment name in offices.yml gives the variant again. Nothing here knows
about HTTP; bot.apps.web.console.experiment_pages is the page.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import yaml

from bot.booking import BookingError, BookingSystem
from bot.foundation.errors import CodedError
from bot.messaging.templates import TEMPLATES_DIR, TemplateText, find_template, load_templates, provider_name
from bot.offices.settings import OfficeSettingsError, configured_offices, for_office
from bot.reminders.variant_choice import RetiredVariant, VariantRetirements

log = logging.getLogger(__name__)


class RetireRefused(CodedError):
    """A variant is not retired; `code` says why: no_experiment, changed,
    unknown_variant, already_retired, last_variant."""


@dataclass(frozen=True)
class TouchWording:
    """What one variant sends at one touch."""
    touch: str
    template: str               # whatsapp_templates/<template>.yml
    exists: bool                # False: offices.yml names a template the project lacks
    first_line: Optional[str]   # in the reader's language, when the template has it


@dataclass(frozen=True)
class VariantView:
    name: str
    wording: Tuple[TouchWording, ...]
    retired_in_file: bool                 # offices.yml `retired`: for good
    retired: Optional[RetiredVariant]     # retired in the console: by whom, when

    @property
    def active(self) -> bool:
        return not self.retired_in_file and self.retired is None


@dataclass(frozen=True)
class OfficeExperiment:
    office_id: str
    office_name: str
    experiment: str
    variants: Tuple[VariantView, ...]

    @property
    def active_count(self) -> int:
        return sum(1 for variant in self.variants if variant.active)


async def experiment_offices(booking: BookingSystem, served: Sequence[str]) -> Tuple[List[str], Dict[str, str]]:
    """The offices whose experiment may be looked at, and their names: those
    offices.yml names, those the deployment serves (RECORDA_OFFICES) and
    those of the booking system (an experiment in `defaults` is theirs too).
    While the booking system is down: the first two, named by their ids."""
    try:
        offices = await booking.list_offices()
    except BookingError as exc:
        log.warning("Experiments: office names unknown, the booking system is down: %s", exc)
        offices = []
    try:
        named = configured_offices()
    except (OfficeSettingsError, yaml.YAMLError):
        named = []   # office_experiments says what is wrong with the file
    ids = list(dict.fromkeys([*named, *served, *(office.id for office in offices)]))
    return ids, {office.id: office.name for office in offices}


def office_experiments(retirements: VariantRetirements, office_ids: Sequence[str], names: Dict[str, str],
                       language: str, templates_dir: Path = TEMPLATES_DIR
                       ) -> Tuple[List[OfficeExperiment], List[str]]:
    """The offices with an experiment, in the order given, and what keeps
    offices.yml from being read (an office it cannot read is left out)."""
    found, problems = [], []
    try:
        templates = load_templates(templates_dir)
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        problems.append(f"whatsapp_templates/: {exc}")
        templates = {}
    for office_id in office_ids:
        try:
            settings = for_office(office_id)
        except (OfficeSettingsError, yaml.YAMLError) as exc:
            if str(exc) not in problems:
                problems.append(str(exc))
            continue
        experiment = settings.experiment
        if experiment is None:
            continue
        in_console = {r.variant: r for r in retirements.retired(office_id, experiment.name)}
        variants = tuple(
            VariantView(variant,
                        tuple(_wording(touch.name, experiment.template(variant, touch), language, templates,
                                       templates_dir) for touch in settings.touches),
                        variant in experiment.retired, in_console.get(variant))
            for variant in experiment.variants)
        found.append(OfficeExperiment(office_id, names.get(office_id, office_id), experiment.name, variants))
    return found, problems


def _wording(touch: str, template: str, language: str, templates: Dict[str, Dict[str, TemplateText]],
             templates_dir: Path) -> TouchWording:
    try:
        name = provider_name(template, templates_dir)
    except KeyError:
        return TouchWording(touch, template, False, None)
    text = find_template(templates, name, language)
    lines = text.body.strip().splitlines() if text else []
    return TouchWording(touch, template, True, lines[0] if lines else None)


def retire_variant(retirements: VariantRetirements, office_ids: Sequence[str], office_id: str,
                   experiment_name: str, variant: str, by: str, at: Optional[datetime] = None) -> None:
    """Retires `variant` of the office's experiment, recorded as retired by
    `by`. `experiment_name` is the one the admin saw: offices.yml may have
    changed since the page was loaded."""
    if office_id not in office_ids:
        raise RetireRefused("no_experiment", f"no office {office_id!r} with an experiment")
    try:
        experiment = for_office(office_id).experiment
    except (OfficeSettingsError, yaml.YAMLError) as exc:
        raise RetireRefused("no_experiment", str(exc)) from None
    if experiment is None:
        raise RetireRefused("no_experiment", f"office {office_id} has no experiment")
    if experiment.name != experiment_name:
        raise RetireRefused("changed", f"office {office_id} now runs {experiment.name}, not {experiment_name}")
    if variant not in experiment.variants:
        raise RetireRefused("unknown_variant", f"experiment {experiment.name} has no variant {variant!r}")
    active = retirements.active(office_id, experiment)
    if variant not in active:
        raise RetireRefused("already_retired", f"{variant} is retired already")
    if len(active) < 2:
        raise RetireRefused("last_variant", f"{variant} is the last variant in use")
    try:
        retirements.retire(office_id, experiment, variant, by, at)
    except ValueError as exc:   # another admin retired the others meanwhile
        raise RetireRefused("last_variant", str(exc)) from None
