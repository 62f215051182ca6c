"""The retry queue's depth, counted when Prometheus asks:
`recorda_booking_outbox_pending{operation}` (confirmations and
cancellations the booking system has not taken yet) and
`recorda_booking_outbox_oldest_pending_seconds` (how long the oldest of them
has waited; 0 when none does): a queue that grows or ages means the booking
system has been down for that long."""
from __future__ import annotations

import logging
from typing import Dict, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func, select

from bot.booking.outbox import OPERATIONS, PENDING, BookingOutbox, booking_operations
from bot.foundation.clock import stored_utc, utc_now

log = logging.getLogger(__name__)


class OutboxDepth:
    """A prometheus_client collector over the booking outbox."""

    def __init__(self, outbox: BookingOutbox):
        self.outbox = outbox

    def depth(self) -> tuple:
        """({operation: pending}, seconds the oldest pending one has waited)."""
        ops = booking_operations.c
        pending = ops.state == PENDING
        with self.outbox.engine.connect() as conn:
            found: Dict[str, int] = {operation: count for operation, count in conn.execute(
                select(ops.operation, func.count()).where(pending).group_by(ops.operation))}
            oldest = conn.execute(select(func.min(ops.created_at)).where(pending)).scalar()
        waited = max((utc_now() - stored_utc(oldest)).total_seconds(), 0.0) if oldest is not None else 0.0
        return {operation: found.get(operation, 0) for operation in OPERATIONS}, waited

    def collect(self) -> Iterator[Metric]:
        try:
            pending, waited = self.depth()
        except Exception:  # the database is down: /ready says so; the other metrics still go out
            log.warning("Could not read the booking outbox for /metrics", exc_info=True)
            return
        family = GaugeMetricFamily("recorda_booking_outbox_pending",
                                   "Booking operations waiting to be retried, by operation", labels=["operation"])
        for operation, count in pending.items():
            family.add_metric([operation], count)
        yield family
        yield GaugeMetricFamily("recorda_booking_outbox_oldest_pending_seconds",
                                "How long the oldest waiting booking operation has waited", value=waited)
