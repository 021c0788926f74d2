"""Node calls the transfer workers need that chain/client.py does not offer."""

from chain.client import ExchangeClient


def block_hash(client: ExchangeClient, number: int) -> str | None:
    """The canonical hash at a height, or None above the head."""
    block = client.block(number)
    return block.hash if block else None


def transaction_known(client: ExchangeClient, transaction_hash: str) -> bool:
    """Whether the node has the transaction, mined or waiting in its pool."""
    return client.rpc("eth_getTransactionByHash", [transaction_hash]) is not None
