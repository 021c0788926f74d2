from decimal import Decimal

from exchange.models import FeeSchedule, Market, MarketStatus, Network, Token
from exchange.paging import PageRequest
from exchange.records import Record
from exchange.selectors.market_rules import rules_annotate, rules_of

# The API's market status names (issue #16); TRADING is served as ACTIVE.
MARKET_STATUS_NAMES: dict[str, str] = {
    MarketStatus.TRADING: "ACTIVE",
    MarketStatus.CANCEL_ONLY: "CANCEL_ONLY",
    MarketStatus.HALTED: "HALTED",
}


def token_list(*, network: Network, page: PageRequest) -> tuple[int, list[Record]]:
    tokens = Token.objects.filter(network=network, listed=True).order_by("id")
    rows = page.slice(
        tokens.values_list(
            "decimals",
            "address",
            "name",
            "symbol",
            "withdrawal_fee",
            "withdrawal_minimum",
            "amount_precision",
        )
    )
    # The spec's four fields, then the token's rules beside them.
    records: list[Record] = [
        {
            "decimals": str(decimals),
            "address": address,
            "name": name,
            "symbol": symbol,
            "withdrawalFee": str(int(fee)),
            "withdrawalMinimum": str(int(minimum)),
            "amountPrecision": None if precision is None else str(precision),
        }
        for decimals, address, name, symbol, fee, minimum, precision in rows
    ]
    return tokens.count(), records


def _token(token: Token) -> Record:
    return {"address": token.address, "symbol": token.symbol, "decimals": str(token.decimals)}


def market_list(*, network: Network, page: PageRequest) -> tuple[int, list[Record]]:
    """The network's markets of listed tokens, oldest first, each with its status, the
    rules in force and the network's fees in force (GET /markets)."""
    markets = Market.objects.filter(network=network, base__listed=True, quote__listed=True)
    rows = page.slice(rules_annotate(markets.select_related("base", "quote").order_by("id")))
    fees = fee_info_get(network=network) if rows else None
    records: list[Record] = [
        {
            "name": market.name,
            "base": _token(market.base),
            "quote": _token(market.quote),
            "status": MARKET_STATUS_NAMES[market.status],
            "rules": rules_of(market).as_api(),
            **(fees or {}),
        }
        for market in rows
    ]
    return markets.count(), records


def fee_info_get(*, network: Network) -> Record:
    schedule = FeeSchedule.objects.in_force(network)
    maker, taker = (
        (schedule.maker_fee, schedule.taker_fee) if schedule else (Decimal(0), Decimal(0))
    )
    return {"makerFee": f"{maker:.8f}", "takerFee": f"{taker:.8f}"}
