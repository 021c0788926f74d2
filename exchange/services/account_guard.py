"""The per-account checks of every write that moves an account's funds (orders, fills,
withdrawals): one query for the accounts' open restrictions.

- FROZEN (a credited deposit left the chain, exchange/services/deep_reorgs.py): refused
  with a validation error on the account's field (1006).
- ESCAPE_HATCH (chain/escape_hatch.py): the account can, or soon can, withdraw directly
  on the contract, so the ledger's balance is not enough: what it commits must also fit
  in what the contract still holds for it after everything already committed
  (escape_payable_check). The contract balance is read from the node before the caller's
  transaction (no node call under a row lock); the commitments inside it, under the
  balance locks.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Q, Subquery, Sum

from exchange.models import (
    AccountRestriction,
    Network,
    Order,
    OrderStatus,
    RestrictionKind,
    SettlementStatus,
    Trade,
    Transfer,
    TransferKind,
    TransferStatus,
)
from exchange.prepared_statements import prepared_fetchall
from exchange.services.errors import FieldCode, FieldError, OrderSubmissionDisabled, Unavailable
from exchange.trading_math import remaining_give

# Trades whose legs the contract has not carried out yet and still may.
_IN_FLIGHT = [SettlementStatus.UNSETTLED, SettlementStatus.SENT]


class ContractUnreadable(Exception):
    """The node did not tell the contract's balance; the message says why."""


# (network, token address, account) -> the account's balance in the exchange contract.
ContractBalanceReader = Callable[[Network, str, str], int]
_contract_balance_reader: ContractBalanceReader | None = None


def contract_balance_reader_set(reader: ContractBalanceReader) -> None:
    """The port through which the guard reads the contract: the chain app, which sits
    above this one, registers its node client here when Django starts (chain/apps.py), so
    the domain never imports chain/ (docs/architecture.md, "Layers")."""
    global _contract_balance_reader
    _contract_balance_reader = reader


def _contract_balance(network: Network, token_address: str, account: str) -> int:
    if _contract_balance_reader is None:
        raise ContractUnreadable("no contract reader is registered (is the chain app installed?)")
    return _contract_balance_reader(network, token_address, account)


@dataclass
class Guard:
    """The exposed accounts of a request and the contract balances read for them."""

    network: Network
    exposed: set[str] = field(default_factory=set)
    contract: dict[tuple[str, str], int] = field(default_factory=dict)  # (account, token address)

    def read(self, account: str, token_address: str) -> None:
        """Reads the contract's balance for an exposed account (no-op otherwise)."""
        if account not in self.exposed or (account, token_address) in self.contract:
            return
        try:
            balance = _contract_balance(self.network, token_address, account)
        except ContractUnreadable as error:
            raise Unavailable(
                f"Cannot read {account}'s balance in the exchange contract now ({error}): "
                "try again",
            ) from None
        self.contract[(account, token_address)] = int(balance)


# _restrictions' query on PostgreSQL, as the ORM builds it but fixed: prepared once per
# connection (exchange/prepared_statements.py), no SQL compilation per request (the trade
# hot path).
_RESTRICTIONS_SQL = """
SELECT r.account, r.kind, r.reason FROM exchange_accountrestriction AS r
WHERE (r.account = ANY(%(accounts)s::text[])
       OR r.account IN (SELECT o.account FROM exchange_order AS o
                        WHERE o.network_id = %(network)s AND o.hash = ANY(%(hashes)s::text[])))
  AND r.network_id = %(network)s AND r.resolved_at IS NULL
ORDER BY r.id DESC
"""


def _restrictions(
    network: Network, accounts: list[str], order_hashes: list[str]
) -> list[tuple[str, str, str]]:
    """(account, kind, reason) of the open restrictions of the accounts and of the
    owners of the orders named, newest first."""
    if connection.vendor == "postgresql":
        rows = prepared_fetchall(
            _RESTRICTIONS_SQL,
            {"accounts": accounts, "network": network.id, "hashes": order_hashes},
        )
        return [(account, kind, reason) for account, kind, reason in rows]
    who = Q(account__in=accounts)
    if order_hashes:
        owners = Order.objects.filter(network=network, hash__in=order_hashes).values("account")
        who |= Q(account__in=Subquery(owners))
    return list(
        AccountRestriction.objects.filter(who, network=network, resolved_at__isnull=True)
        .order_by("-id")
        .values_list("account", "kind", "reason")
    )


def account_guard(
    *,
    network: Network,
    accounts: Iterable[str],
    order_hashes: Iterable[str] = (),
) -> Guard:
    """Refuses a frozen account (the accounts named, on `account`, and the owners of the
    orders named, on `orderHash`); returns the guard of the exposed ones."""
    accounts, order_hashes = [a.lower() for a in accounts], list(order_hashes)
    guard = Guard(network)
    for account, kind, reason in _restrictions(network, accounts, order_hashes):
        if kind == RestrictionKind.OPERATOR:
            raise OrderSubmissionDisabled(
                f"Account {account} is frozen by the operator: {reason}. Its orders, trades "
                "and withdrawals are refused; its funds stay withdrawable through the "
                "contract's escape hatch",
            )
        if kind == RestrictionKind.FROZEN:
            raise FieldError(
                "account" if account in accounts else "orderHash",
                FieldCode.UNSUPPORTED_OPTION,
                f"Account {account} is frozen: {reason}. An operator must resolve it",
            )
        guard.exposed.add(account)
    return guard


def committed(*, network: Network, account: str, token_id: int, with_orders: bool) -> int:
    """What the contract will pay out of the account's balance of the token for what is
    already booked: in-flight trades it gives in, withdrawals not yet complete, and (for
    a new order) the holds of its open orders in the token."""
    as_maker = Trade.objects.filter(
        network=network, maker=account, give_token_id=token_id, settlement_status__in=_IN_FLIGHT
    ).aggregate(total=Sum("give_amount"))["total"]
    as_taker = Trade.objects.filter(
        network=network, taker=account, take_token_id=token_id, settlement_status__in=_IN_FLIGHT
    ).aggregate(total=Sum("take_amount"))["total"]
    withdrawing = Transfer.objects.filter(
        network=network,
        kind=TransferKind.WITHDRAWAL,
        account=account,
        token_id=token_id,
        status__in=[TransferStatus.PENDING, TransferStatus.PROCESSING],
    ).aggregate(total=Sum("amount"))["total"]
    total = int(as_maker or 0) + int(as_taker or 0) + int(withdrawing or 0)
    if with_orders:
        for order in Order.objects.filter(
            network=network, account=account, give_token_id=token_id, status=OrderStatus.OPEN
        ).only("give_amount", "take_amount", "filled"):
            total += remaining_give(
                give_amount=order.give_amount, take_amount=order.take_amount, filled=order.filled
            )
    return total


def escape_payable_check(
    *,
    guard: Guard,
    account: str,
    token_id: int,
    token_address: str,
    amount: int,
    field: str,
    with_orders: bool = False,
) -> None:
    """For an exposed account: refuses `amount` more than the contract can still pay it
    (1004 on `field`). Run inside the caller's transaction, after its balance locks."""
    if account not in guard.exposed:
        return
    held = guard.contract[(account, token_address)]
    payable = held - committed(
        network=guard.network, account=account, token_id=token_id, with_orders=with_orders
    )
    if amount > payable:
        raise FieldError(
            field,
            FieldCode.OUT_OF_RANGE,
            f"{account} can withdraw directly from the exchange contract (no activity for its "
            f"inactivity period), so only what the contract still holds counts: it can pay "
            f"{max(payable, 0)} of token {token_address}, not {amount}",
        )
