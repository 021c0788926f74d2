"""The exchange-wide read-only switch (issue #16): an open Maintenance period refuses
every write endpoint with code 102 and a reason naming the maintenance and the
operator's reason; reads are served.

The open period is read once per MAINTENANCE_CACHE_SECONDS (one second) per process:
maintenance_start and maintenance_end (the admin's add form and action call them) clear
it at once, a change made in another process is seen within that second. Writes already past the check when the switch is thrown finish
(the switch is for planned work, not for stopping money in flight: that is the
network's order-submission kill switch and the settlement halt)."""

import time

from django.db import transaction
from django.utils import timezone

from exchange.models import Maintenance
from exchange.services.errors import OrderSubmissionDisabled

MAINTENANCE_CACHE_SECONDS = 1.0
ALREADY_OPEN = "A maintenance period is already open: end it first."

_kept: tuple[float, Maintenance | None] | None = None


def maintenance_open() -> Maintenance | None:
    """The open maintenance period, or None (cached per process for a second)."""
    global _kept
    now = time.monotonic()
    if _kept is not None and now - _kept[0] < MAINTENANCE_CACHE_SECONDS:
        return _kept[1]
    row = Maintenance.objects.filter(ended_at__isnull=True).first()
    _kept = (now, row)
    return row


def maintenance_forget() -> None:
    global _kept
    _kept = None


def maintenance_refusal(period: Maintenance) -> OrderSubmissionDisabled:
    return OrderSubmissionDisabled(
        f"The exchange is read-only for maintenance: {period.reason}. Writes are refused; "
        "reads are served",
    )


def writes_allowed() -> None:
    """Raises the 102 refusal while a maintenance period is open."""
    period = maintenance_open()
    if period is not None:
        raise maintenance_refusal(period)


def maintenance_start(*, reason: str, by: str = "") -> Maintenance:
    """Opens a period; refused (ValueError) while one is open."""
    with transaction.atomic():
        if Maintenance.objects.select_for_update().filter(ended_at__isnull=True).exists():
            raise ValueError(ALREADY_OPEN)
        period = Maintenance.objects.create(reason=reason, started_by=by)
        transaction.on_commit(maintenance_forget)
    maintenance_forget()
    return period


def maintenance_end(*, by: str = "") -> int:
    """Ends the open period (if any); returns how many were ended (0 or 1)."""
    count = Maintenance.objects.filter(ended_at__isnull=True).update(
        ended_at=timezone.now(), ended_by=by
    )
    maintenance_forget()
    return count
