import time

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from exchange.api.errors import FieldCode, FieldError
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


# networkId -> (read at, Network or None), per process. A request reads its network
# from here for NETWORK_CACHE_SECONDS at most: a change saved in this process (the
# admin, the services) clears it at once, one saved elsewhere is seen within that
# time. Where staleness matters it does not count on it: order_place and
# trade_execute read the network's order_submission_enabled again, fresh, with the
# market they lock or check.
_networks: dict[int, tuple[float, Network | None]] = {}


def _network_get(network_id: int) -> Network | None:
    cached = _networks.get(network_id)
    if cached is not None and time.monotonic() - cached[0] < settings.NETWORK_CACHE_SECONDS:
        return cached[1]
    network = Network.objects.filter(pk=network_id, enabled=True).first()
    _networks[network_id] = (time.monotonic(), network)
    return network


def networks_forget() -> None:
    _networks.clear()


@receiver(post_save, sender=Network)
@receiver(post_delete, sender=Network)
def _network_changed(**_kwargs) -> None:
    networks_forget()
