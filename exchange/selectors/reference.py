from decimal import Decimal

from exchange.models import FeeSchedule, Network, Token
from exchange.paging import PageRequest


def token_list(*, network: Network, page: PageRequest) -> tuple[int, list[dict]]:
    tokens = Token.objects.filter(network=network, listed=True).order_by("id")
    rows = page.slice(tokens.values_list("decimals", "address", "name", "symbol"))
    records = [
        {"decimals": str(decimals), "address": address, "name": name, "symbol": symbol}
        for decimals, address, name, symbol in rows
    ]
    return tokens.count(), records


def fee_info_get(*, network: Network) -> dict:
    schedule = FeeSchedule.objects.in_force(network)
    maker, taker = (
        (schedule.maker_fee, schedule.taker_fee) if schedule else (Decimal(0), Decimal(0))
    )
    return {"makerFee": f"{maker:.8f}", "takerFee": f"{taker:.8f}"}
