"""Reversing a quarantined trade: the contract refused it, an operator decides it will
never settle, and its ledger legs are undone (docs/security.md, "On chain").

What each party ends with: the maker gets back the give tokens the trade took from it (as
available balance: the order is not reopened, its filled part stays filled) and gives up
the take tokens it received; the taker gets back what it paid and gives up what it
received; the fee account gives up the trade's fees. Each leg is a ledger entry of the
same kind as the one it undoes, with the reference "reverse:<trade uuid>", in one
transaction with the trade's FAILED -> REVERSED update. A party that has already spent
what it received (available balance too low) makes the reversal refuse as a whole: the
operator first cancels that party's orders or reverses the trade that spent it.

After the legs, any shortfall of a direct withdrawal of the maker in the give token is
repaid from what came back (exchange/services/direct_withdrawals.py): the maker sold
tokens it then withdrew through the escape hatch.
"""

import logging

from django.conf import settings
from django.db import transaction

from exchange.models import Balance, LedgerKind, Network, SettlementStatus, Trade
from exchange.services.direct_withdrawals import shortfalls_repay
from exchange.services.fees import fees_roll_up
from exchange.services.ledger import (
    BalanceKey,
    InsufficientBalance,
    balance_changes,
    balances_lock,
)

logger = logging.getLogger(__name__)


class ReversalRefused(Exception):
    """The trade cannot be reversed (not quarantined, or a party spent what it received)."""


def _reverse_legs(
    trade: Trade, balances: dict[BalanceKey, Balance]
) -> list[tuple[Balance, LedgerKind, int, int, str]]:
    """The trade's legs (exchange/services/trades.py _ledger_legs), each negated. The
    maker's hold is not taken again: its order keeps its filled amount."""
    give, take = trade.give_token_id, trade.take_token_id
    maker, taker, fees = trade.maker, trade.taker, settings.FEE_ACCOUNT.lower()
    gross, amount = int(trade.give_amount), int(trade.take_amount)
    maker_fee, taker_fee, gas_fee = int(trade.maker_fee), int(trade.taker_fee), int(trade.gas_fee)
    legs = [
        # Debits first would refuse a party whose only funds are the credit below; credits first.
        ((maker, give), LedgerKind.TRADE, gross),
        ((taker, take), LedgerKind.TRADE, amount),
        ((maker, take), LedgerKind.TRADE_FEE, maker_fee),
        ((taker, give), LedgerKind.TRADE_FEE, taker_fee),
        ((taker, give), LedgerKind.GAS_FEE, gas_fee),
        ((maker, take), LedgerKind.TRADE, -amount),
        ((fees, take), LedgerKind.TRADE_FEE, -maker_fee),
        ((taker, give), LedgerKind.TRADE, -gross),
        ((fees, give), LedgerKind.TRADE_FEE, -taker_fee),
        ((fees, give), LedgerKind.GAS_FEE, -gas_fee),
    ]
    reference = f"reverse:{trade.uuid}"
    return [(balances[key], kind, delta, 0, reference) for key, kind, delta in legs]


def trade_reverse(*, trade_id: int) -> Trade:
    """FAILED -> REVERSED with the trade's ledger legs undone; ReversalRefused otherwise."""
    network_id = Trade.objects.filter(id=trade_id).values_list("network_id", flat=True).first()
    network = None if network_id is None else Network.objects.filter(id=network_id).first()
    if network is not None:
        fees_roll_up(network=network)  # the fees taken back are in the fee account's balance
    with transaction.atomic():
        trade = Trade.objects.select_for_update().filter(id=trade_id).first()
        if trade is None or trade.settlement_status != SettlementStatus.FAILED:
            raise ReversalRefused(f"trade {trade_id} is not quarantined (FAILED)")
        fees = settings.FEE_ACCOUNT.lower()
        keys = {
            (account, token)
            for account in (trade.maker, trade.taker, fees)
            for token in (trade.give_token_id, trade.take_token_id)
        }
        balances = balances_lock(network=trade.network, keys=keys)
        try:
            balance_changes(_reverse_legs(trade, balances))
        except InsufficientBalance as error:
            raise ReversalRefused(
                f"trade {trade.id} cannot be reversed: {error.balance.account} has spent "
                f"what it received ({error}); cancel its orders or reverse the trade that "
                "spent it first"
            ) from None
        shortfalls_repay(balance=balances[(trade.maker, trade.give_token_id)])
        trade.settlement_status = SettlementStatus.REVERSED
        trade.settlement_error = f"reversed by an operator; was: {trade.settlement_error}"[:2000]
        trade.save(update_fields=["settlement_status", "settlement_error"])
    logger.warning("event=trade_reversed trade=%s", trade_id)
    return trade
