"""Reads for API access control: keys, bans and the rate-limit policy."""

import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from exchange.models import ApiKey, Ban, CostClass, RateLimitPolicy
from exchange.models.operations import DEFAULT_LIMITS, DEFAULT_WINDOW_SECONDS
from exchange.services.api_keys import api_key_hash


def api_key_find(*, raw_key: str) -> ApiKey | None:
    """The active key with this raw value, or None for an unknown or revoked one."""
    return ApiKey.objects.filter(key_hash=api_key_hash(raw_key), revoked_at__isnull=True).first()


def ban_active(*, clients: list[str], now: datetime) -> Ban | None:
    return Ban.objects.filter(client__in=clients, until__gt=now).order_by("-until").first()


@dataclass(frozen=True)
class Limits:
    window_seconds: int
    ip_limit: int
    account_limit: int
    api_key_limit: int


_policy_memo: dict = {"at": float("-inf"), "limits": {}}


def rate_limits_get(*, cost_class: CostClass) -> Limits:
    """The cost class's limits: the operator's policy row, else the built-in default.

    Kept in memory for RATELIMIT_POLICY_TTL seconds, so an edit in the admin takes
    effect on every web process within that time without a query per request.
    """
    if time.monotonic() - _policy_memo["at"] >= settings.RATELIMIT_POLICY_TTL:
        _policy_memo["limits"] = {
            policy.cost_class: Limits(
                policy.window_seconds, policy.ip_limit, policy.account_limit, policy.api_key_limit
            )
            for policy in RateLimitPolicy.objects.all()
        }
        _policy_memo["at"] = time.monotonic()
    limits = _policy_memo["limits"].get(cost_class)
    if limits is None:
        ip_limit, account_limit, key_limit = DEFAULT_LIMITS[cost_class]
        limits = Limits(DEFAULT_WINDOW_SECONDS, ip_limit, account_limit, key_limit)
    return limits


def rate_limits_forget() -> None:
    _policy_memo["at"] = float("-inf")
