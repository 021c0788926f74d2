from datetime import UTC, datetime, timedelta

from exchange.models import Network, Transfer
from exchange.paging import PageRequest
from exchange.records import Record


def _at(milliseconds: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=milliseconds)


def transfer_list(
    *, network: Network, account: str, start_ms: int, end_ms: int, page: PageRequest
) -> tuple[int, list[Record]]:
    """An account's deposits and withdrawals created in [start_ms, end_ms], newest first."""
    transfers = (
        Transfer.objects.filter(
            network=network,
            account=account.lower(),
            created_at__gte=_at(start_ms),
            created_at__lt=_at(end_ms + 1),
        )
        .select_related("token")
        .order_by("-created_at", "-id")
    )
    records: list[Record] = [
        transfer_record(transfer, transfer.token.address) for transfer in page.slice(transfers)
    ]
    return transfers.count(), records


def transfer_record(transfer: Transfer, token_address: str) -> Record:
    """A POST /get_transfers record."""
    return {
        "id": str(transfer.id),
        "type": transfer.kind,
        "token": token_address,
        "amount": str(transfer.amount),
        "status": transfer.status,
        "transactionHash": transfer.transaction_hash or None,
        "blockHash": transfer.block_hash or None,
        "blockNumber": transfer.block_number,
        "created_at": str(int(transfer.created_at.timestamp())),
    }
