from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from exchange.api.errors import FieldCode, FieldError
from exchange.api.kept import KeptRows
from exchange.models import Network


def network_from_params(params: dict) -> Network:
    """The request's networkId, or the configured default; unknown or disabled is a 400."""
    raw = params.get("networkId", settings.DEFAULT_NETWORK_ID)
    try:
        network_id = int(str(raw))
    except ValueError:
        raise FieldError(
            "networkId", FieldCode.INCORRECT_FORMAT, f"Network id {raw} is not an integer"
        ) from None
    network = _network_get(network_id) if 0 < network_id < 2**63 else None
    if network is None:
        raise FieldError(
            "networkId", FieldCode.UNSUPPORTED_OPTION, f"Network id {network_id} is not supported"
        )
    return network


# networkId -> Network or None (exchange/api/kept.py). Where staleness matters it does
# not count on it: order_place and trade_execute read the network's
# order_submission_enabled again, fresh, with the market they lock or check.
_networks: KeptRows[Network] = KeptRows(keep_missing=True)


def _network_get(network_id: int) -> Network | None:
    return _networks.get(
        network_id, lambda: Network.objects.filter(pk=network_id, enabled=True).first()
    )


def networks_forget() -> None:
    _networks.forget()


@receiver(post_save, sender=Network)
@receiver(post_delete, sender=Network)
def _network_changed(**_kwargs) -> None:
    # At once for this process's next read, and again after the commit: a read between
    # the two may have kept the row as it was before.
    networks_forget()
    transaction.on_commit(networks_forget)
