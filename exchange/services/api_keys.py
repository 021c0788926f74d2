"""Issuing and revoking API keys. The raw key exists only in the issuer's hands."""

import secrets

from django.db import transaction
from django.utils import timezone

from exchange.models import ApiKey
from exchange.models.operations import api_key_hash
from exchange.services.access_cache import access_forget

KEY_PREFIX_LENGTH = 8


def api_key_issue(
    *,
    name: str,
    allow_trade: bool = True,
    allow_user_data: bool = True,
    rate_limit_multiplier: int = 1,
) -> tuple[ApiKey, str]:
    """Creates a key and returns it with its raw value, which is never stored."""
    raw_key = secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        name=name,
        prefix=raw_key[:KEY_PREFIX_LENGTH],
        key_hash=api_key_hash(raw_key),
        allow_trade=allow_trade,
        allow_user_data=allow_user_data,
        rate_limit_multiplier=rate_limit_multiplier,
    )
    return api_key, raw_key


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey) -> None:
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db(fields=["revoked_at"])
    access_forget(key_hashes=[api_key.key_hash])


@transaction.atomic
def api_key_save(*, api_key: ApiKey) -> None:
    """Saves an operator's edit of a key (its scopes, its multiplier): applies at once."""
    api_key.save()
    access_forget(key_hashes=[api_key.key_hash])
