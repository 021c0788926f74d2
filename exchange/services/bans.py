"""Bans of clients that keep sending after 429s: escalating, recorded, liftable."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from exchange.models import Ban
from exchange.services.access_cache import access_forget


def ban_duration(strikes: int) -> timedelta:
    """Minutes at first, doubling with each ban in a row, capped (days)."""
    base = settings.RATELIMIT_BAN_BASE_SECONDS
    cap = settings.RATELIMIT_BAN_MAX_SECONDS
    return timedelta(seconds=min(cap, base * 2 ** max(0, strikes - 1)))


@transaction.atomic
def ban_impose(*, client: str, reason: str, now: datetime) -> Ban:
    """Bans `client` from `now`; a ban still in force is returned unchanged, so two
    requests racing past the threshold count as one strike."""
    ban, created = Ban.objects.select_for_update().get_or_create(
        client=client, defaults={"reason": reason, "until": now, "strikes": 0}
    )
    if not created and ban.until > now:
        return ban
    forget_after = timedelta(seconds=settings.RATELIMIT_BAN_MAX_SECONDS)
    if not created and ban.until + forget_after < now:
        # Well behaved for as long as the longest ban: start the escalation again.
        ban.strikes = 0
    ban.strikes += 1
    ban.reason = reason
    ban.until = now + ban_duration(ban.strikes)
    ban.save(update_fields=["strikes", "reason", "until", "updated_at"])
    access_forget(clients=[client])
    return ban


@transaction.atomic
def ban_lift(*, ban: Ban, now: datetime) -> None:
    """Ends the ban now and forgives it: the next one starts again at the base length."""
    Ban.objects.filter(pk=ban.pk).update(until=now, strikes=0)
    ban.refresh_from_db()
    access_forget(clients=[ban.client])
