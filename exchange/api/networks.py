from django.conf import settings

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
    network = (
        Network.objects.filter(pk=network_id, enabled=True).first()
        if 0 < network_id < 2**63
        else None
    )
    if network is None:
        raise FieldError(
            "networkId", FieldCode.UNSUPPORTED_OPTION, f"Network id {network_id} is not supported"
        )
    return network
