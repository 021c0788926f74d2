"""What the chain app lends the domain below it: the domain defines the port, this module
fills it with the node client, and chain/apps.py registers it when Django starts
(docs/architecture.md, "Layers": exchange never imports chain)."""

from chain.client import ChainError, exchange_client
from exchange.models import Network
from exchange.services.account_guard import ContractUnreadable, contract_balance_reader_set


def contract_balance_read(network: Network, token_address: str, account: str) -> int:
    """The account's balance of the token in the network's exchange contract."""
    try:
        return int(exchange_client(network).balance_of(token_address, account))
    except ChainError as error:
        raise ContractUnreadable(str(error)) from None


def ports_register() -> None:
    contract_balance_reader_set(contract_balance_read)
