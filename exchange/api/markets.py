from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from exchange.api.errors import FieldCode, FieldError
from exchange.api.kept import KeptRows
from exchange.market_snapshots import market_data_changed
from exchange.models import Market, Network, Token
from exchange.selectors.orders import market_by_name

# (networkId, name as asked) -> Market with base and quote (exchange/api/kept.py). The
# reads that use it show a market's data; what must be fresh (status, kill switch) the
# services read again.
_markets: KeptRows[Market] = KeptRows(keep_missing=False)


def market_from_name(network: Network, name: str) -> Market:
    """The network's market named BASE_QUOTE; an unknown one is a 400 on `market`."""
    market = _markets.get((network.id, name), lambda: market_by_name(network=network, name=name))
    if market is None:
        raise FieldError(
            "market",
            FieldCode.UNSUPPORTED_OPTION,
            f"Market {name} is not traded on network {network.id} (names are BASE_QUOTE)",
        )
    return market


def markets_forget() -> None:
    _markets.forget()


@receiver(post_save, sender=Market)
@receiver(post_delete, sender=Market)
@receiver(post_save, sender=Token)
@receiver(post_delete, sender=Token)
def _reference_changed(instance, **_kwargs) -> None:
    """A market or token saved (the admin): forget the names here, and give the
    network's markets new snapshot versions (symbols, decimals and the market list
    show in the reads)."""
    markets_forget()
    market_ids = Market.objects.filter(network_id=instance.network_id).values_list("id", flat=True)
    market_data_changed(network_id=instance.network_id, market_ids=list(market_ids))
