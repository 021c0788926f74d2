"""The operator's channel: what the dashboard updates live (docs/streams.md, The operator
channel). Not part of the public protocol (shared/STREAMS.md): `operator` is subscribed
only by a connection whose upgrade carries an active staff member's admin session, from
a page of the same origin; for anyone else it is an unknown channel.

Its events, per network (`?networkId=`), written in the transaction of their change as
every other event:
- `deposit`: a deposit credited, its POST /get_transfers record with its `account`;
- `watcher`: the deposit watcher's state after a run that moved it:
  {"scannedBlock", "head", "lag"} (blocks).
The dashboard takes new trades from the public `trades:<MARKET>` channels.
"""

from collections.abc import Iterable
from http.cookies import CookieError, SimpleCookie
from importlib import import_module
from types import SimpleNamespace
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from exchange.streams.outbox import channel_key, emit, emit_later

CHANNEL = "operator"


def deposits_credited(ids: Iterable[int]) -> None:
    """Each credited deposit to the operator channel, read at the end of the transaction."""
    ids = sorted(set(ids))
    if ids:
        emit_later(lambda: _deposit_events(ids))


def _deposit_events(ids: list[int]):
    from exchange.models import Transfer
    from exchange.selectors.transfers import transfer_record
    from exchange.streams.events import token_address

    for transfer in Transfer.objects.filter(id__in=ids).order_by("id"):
        record = transfer_record(transfer, token_address(transfer.token_id))
        yield (
            channel_key(transfer.network_id, CHANNEL),
            "deposit",
            {**record, "account": transfer.account},
        )


def watcher_moved(*, network_id: int, scanned_block: int | None, head: int) -> None:
    """The watcher's state, as one event in a transaction of its own, when it differs
    from the last one sent (a lost memo only sends the same state again)."""
    state = (scanned_block, head)
    memo = f"streams:operator:watcher:{network_id}"
    if cache.get(memo) == state:
        return
    lag = head - scanned_block if scanned_block is not None else None
    with transaction.atomic():
        emit(
            network_id,
            CHANNEL,
            "watcher",
            {"scannedBlock": scanned_block, "head": head, "lag": lag},
        )
    transaction.on_commit(lambda: cache.set(memo, state, 3600), robust=True)


def staff_connection(scope: dict) -> bool:
    """Whether the upgrade carries an active staff member's session, from a page of the
    same origin (a cross-site page cannot open it with the operator's cookie)."""
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    origin = headers.get("origin")
    if origin is None or urlsplit(origin).netloc != headers.get("host"):
        return False
    cookies = SimpleCookie()
    try:
        cookies.load(headers.get("cookie", ""))
    except CookieError:
        return False
    morsel = cookies.get(settings.SESSION_COOKIE_NAME)
    if morsel is None:
        return False
    from django.contrib.auth import get_user

    session = import_module(settings.SESSION_ENGINE).SessionStore(morsel.value)
    user = get_user(SimpleNamespace(session=session))  # type: ignore[arg-type]  # get_user reads only .session
    return bool(user.is_active and user.is_staff)
