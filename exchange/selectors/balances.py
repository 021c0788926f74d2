from exchange.models import Balance, Network
from exchange.paging import PageRequest
from exchange.records import Record


def balance_list(*, network: Network, account: str, page: PageRequest) -> tuple[int, list[Record]]:
    """An account's balances on the network: total (`balance`) and held (`holdBalance`)."""
    balances = Balance.objects.filter(network=network, account=account.lower()).order_by("token_id")
    rows = page.slice(balances.values_list("token__address", "total", "held"))
    records: list[Record] = [
        {"token": token, "balance": str(total), "holdBalance": str(held)}
        for token, total, held in rows
    ]
    return balances.count(), records
