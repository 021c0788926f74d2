"""Dropping the cached access rows (exchange/selectors/access.py) after a write: the
services that change keys and bans call it, and so does the admin's change form of a key."""

from collections.abc import Sequence

from django.db import transaction

from exchange.selectors.access import api_key_cache_key, ban_cache_key, cache_call


def access_forget(*, clients: Sequence[str] = (), key_hashes: Sequence[str] = ()) -> None:
    keys = [ban_cache_key(client) for client in clients]
    keys += [api_key_cache_key(key_hash) for key_hash in key_hashes]
    cache_call("delete_many", keys)
    # A request that read the old row before the commit may have cached it again.
    transaction.on_commit(lambda: cache_call("delete_many", keys))
