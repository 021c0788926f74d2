"""The exchange-wide read-only switch (issue #16): an open Maintenance period refuses
every write endpoint with code 102 and a reason naming the maintenance and the
operator's reason; reads are served.

The open period is read once per MAINTENANCE_CACHE_SECONDS (one second) per process:
a save in this process (the admin's) clears it at once, one saved elsewhere is seen
within that second. Writes already past the check when the switch is thrown finish
(the switch is for planned work, not for stopping money in flight: that is the
network's order-submission kill switch and the settlement halt)."""

import time

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from exchange.api.errors import ApiError, Code
from exchange.models import Maintenance

MAINTENANCE_CACHE_SECONDS = 1.0

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


def maintenance_refusal(period: Maintenance) -> ApiError:
    return ApiError(
        Code.ORDER_SUBMISSION_DISABLED,
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
            raise ValueError("A maintenance period is already open: end it first.")
        return Maintenance.objects.create(reason=reason, started_by=by)


def maintenance_end(*, by: str = "") -> int:
    """Ends the open period (if any); returns how many were ended (0 or 1)."""
    count = Maintenance.objects.filter(ended_at__isnull=True).update(
        ended_at=timezone.now(), ended_by=by
    )
    maintenance_forget()
    return count


@receiver(post_save, sender=Maintenance)
@receiver(post_delete, sender=Maintenance)
def _maintenance_changed(**_kwargs: object) -> None:
    maintenance_forget()
