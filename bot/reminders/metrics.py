"""`recorda_reminders{state}`: how many reminders the store holds in each
state (bot/reminders/states.py), counted when Prometheus asks. Every state
is reported, 0 included, so a rule can watch one that is usually empty
(e.g. stuck in `sending`). The store keeps reminders for the retention
period (RECORDA_RETENTION_DAYS)."""
from __future__ import annotations

import logging
from typing import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func, select

from bot.reminders import states
from bot.reminders.records import reminders
from bot.reminders.store import ReminderStore

log = logging.getLogger(__name__)

METRIC = "recorda_reminders"


class RemindersByState:
    """A prometheus_client collector over the reminder store."""

    def __init__(self, store: ReminderStore):
        self.store = store

    def counts(self) -> dict:
        """state -> number of reminders, every state present."""
        query = select(reminders.c.state, func.count()).group_by(reminders.c.state)
        with self.store.engine.connect() as conn:
            found = {state: count for state, count in conn.execute(query)}
        return {**{state: 0 for state in states.ALL_STATES}, **found}

    def collect(self) -> Iterator[Metric]:
        try:
            counts = self.counts()
        except Exception:  # the database is down: /ready says so; the other metrics still go out
            log.warning("Could not count the reminders by state for /metrics", exc_info=True)
            return
        family = GaugeMetricFamily(METRIC, "Reminders in the store, by state", labels=["state"])
        for state, count in counts.items():
            family.add_metric([state], count)
        yield family
