"""The operator account's transaction nonces, handed out under a row lock.

Every worker that signs with the operator key (withdrawals, trade settlement) takes its
nonce here, inside the transaction that stores the signed transaction, so two workers
never sign two transactions with one nonce and a crash never loses track of one.
"""

from chain.models import OperatorNonce
from exchange.models import Network


def operator_nonce_take(*, network: Network, address: str, node_nonce: int) -> int:
    """The next nonce: max(what was handed out, the node's pending transaction count).
    Call inside transaction.atomic(); the row stays locked until commit, and a rollback
    gives the nonce back."""
    return operator_nonces_take(network=network, address=address, node_nonce=node_nonce, count=1)


def operator_nonces_take(*, network: Network, address: str, node_nonce: int, count: int) -> int:
    """`count` consecutive nonces, from the first one operator_nonce_take would give;
    returns the first. Same locking and rollback as operator_nonce_take."""
    address = address.lower()
    OperatorNonce.objects.bulk_create(
        [OperatorNonce(network=network, address=address)], ignore_conflicts=True
    )
    row = OperatorNonce.objects.select_for_update().get(network=network, address=address)
    nonce = max(row.next_nonce, node_nonce)
    row.next_nonce = nonce + count
    row.save(update_fields=["next_nonce", "updated_at"])
    return nonce
