"""What the figures need to know of each office's setup: its settings from
offices.yml (touches, sending hour, wording experiment) and which variants
of its experiment are still given. Read by bot.reports.load; the figures
themselves only take it as a value."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Optional, Tuple

from bot.offices.settings import Experiment, OfficeSettings, Touch

DEFAULT_SETUP_SETTINGS = OfficeSettings()


@dataclass(frozen=True)
class OfficeSetup:
    """settings: the office's, as offices.yml gives them now.
    active_variants: the variants of its experiment still given (neither
    retired in offices.yml nor from the console), in offices.yml's order."""
    settings: OfficeSettings = DEFAULT_SETUP_SETTINGS
    active_variants: Tuple[str, ...] = ()

    @property
    def experiment(self) -> Optional[Experiment]:
        return self.settings.experiment

    def retired(self) -> Dict[str, bool]:
        """Every variant of the experiment: True where it is no longer given."""
        experiment = self.experiment
        return {} if experiment is None else {v: v not in self.active_variants for v in experiment.variants}

    def touch_name(self, recorded: Optional[str]) -> str:
        """The touch a send belongs to: the one it recorded; a send recorded
        without one (before touches, or outside the job) counts as the
        office's last touch, as its reply window does (OfficeSettings.touch)."""
        return recorded or self.settings.touches[-1].name

    @property
    def touches(self) -> Tuple[Touch, ...]:
        return self.settings.touches


def setup_of(setups: Mapping[str, OfficeSetup], office_id: Optional[str]) -> OfficeSetup:
    """An office's setup; Recorda's built-in defaults for an office the
    caller did not read (or a reminder without office)."""
    return setups.get(office_id or "") or OfficeSetup()
