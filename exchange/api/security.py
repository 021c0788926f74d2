"""Every endpoint's security type and cost class, by URL name, in one place.

A request carrying an API key (X-API-KEY) is refused on an endpoint whose security
type the key does not allow. Endpoints not listed are public (no security type) and
light. Keys only raise limits and scope access: signatures stay the only authority
over an account's funds.
"""

from exchange.models import CostClass, SecurityType

SECURITY_TYPES: dict[str, SecurityType] = {
    "create-orders": SecurityType.TRADE,
    "delete-orders": SecurityType.TRADE,
    "create-trades": SecurityType.TRADE,
    "create-transfers": SecurityType.TRADE,
    "get-orders": SecurityType.USER_DATA,
    "get-trades": SecurityType.USER_DATA,
    "get-transfers": SecurityType.USER_DATA,
    "accounts": SecurityType.USER_DATA,
    "account-balances": SecurityType.USER_DATA,
    "balances": SecurityType.USER_DATA,
}

COST_CLASSES: dict[str, CostClass] = {
    "create-orders": CostClass.WRITE,
    "delete-orders": CostClass.WRITE,
    "create-trades": CostClass.WRITE,
    "create-transfers": CostClass.WRITE,
    "get-orders": CostClass.QUERY,
    "get-trades": CostClass.QUERY,
    "get-transfers": CostClass.QUERY,
    "accounts": CostClass.QUERY,
    "account-balances": CostClass.QUERY,
    "balances": CostClass.QUERY,
    "orderbook": CostClass.QUERY,
    "get-orderbook": CostClass.QUERY,
    "ticker": CostClass.QUERY,
    "get-ticker": CostClass.QUERY,
    "chart-data": CostClass.QUERY,
    "get-chart-data": CostClass.QUERY,
}


def security_type_of(url_name: str | None) -> SecurityType | None:
    return SECURITY_TYPES.get(url_name or "")


def cost_class_of(url_name: str | None) -> CostClass:
    return COST_CLASSES.get(url_name or "", CostClass.LIGHT)
