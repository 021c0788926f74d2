"""Helpers for trading tests: place real orders, sign fills, snapshot every money row.

order = place(maker, give_token=eth, give_amount=..., take_token=tst, take_amount=...)
trades = execute(network, [fill(taker, order, amount)])
before = snapshot(); ...; assert snapshot() == before
"""

from decimal import Decimal

import pytest
from eth_account.signers.local import LocalAccount

from exchange.models import Balance, Candle, FeeAccrual, LedgerEntry, Order, Token, Trade
from exchange.services.fees import fees_roll_up
from exchange.services.orders import order_place
from exchange.services.trades import TradeRequest, trade_execute
from tests.signing import FUNDS, address_of, new_signer, signed_order, signed_trade


def place(
    maker: LocalAccount,
    *,
    give_token: Token,
    give_amount: int,
    take_token: Token,
    take_amount: int,
    expiry_ms: int | None = None,
    chain_id: int | None = None,
) -> Order:
    """An order on the book through order_place (its give amount held); signed with
    EIP-712 on chain `chain_id` if given."""
    network = give_token.network
    payload = signed_order(
        maker,
        contract=network.exchange_address,
        give_token=give_token,
        give_amount=give_amount,
        take_token=take_token,
        take_amount=take_amount,
        expiry_ms=expiry_ms,
        chain_id=chain_id,
    )
    return order_place(
        network=network,
        account=payload["account"],
        give_token_address=payload["giveTokenAddress"],
        give_amount=give_amount,
        take_token_address=payload["takeTokenAddress"],
        take_amount=take_amount,
        nonce=int(payload["nonce"]),
        expiry_ms=int(payload["expiryTimestampInMilliseconds"]),
        signature=payload["signature"],
        signature_type=payload.get("signatureType", "eth_sign"),
    )


def fill_payload(taker: LocalAccount, order: Order, amount: int, **kwargs) -> dict:
    """The create_trades item filling `amount` (take-token units) of `order`."""
    return signed_trade(
        taker,
        contract=order.network.exchange_address,
        order_hash=order.hash,
        amount=amount,
        **kwargs,
    )


def fill(taker: LocalAccount, order: Order, amount: int, **kwargs) -> TradeRequest:
    payload = fill_payload(taker, order, amount, **kwargs)
    return TradeRequest(
        order_hash=payload["orderHash"],
        amount=amount,
        account=payload["account"],
        nonce=int(payload["nonce"]),
        signature=payload["signature"],
        signature_type=payload.get("signatureType", "eth_sign"),
    )


def execute(network, fills: list[TradeRequest], **kwargs) -> list[Trade]:
    """trade_execute, then the fees booked to the fee account as the worker books them
    (exchange/services/fees.py)."""
    trades = trade_execute(network=network, fills=fills, **kwargs)
    fees_roll_up(network=network)
    return trades


def balance(account: LocalAccount | str, token: Token) -> tuple[int, int]:
    """(total, held) of an account's balance, (0, 0) if it has none."""
    address = account if isinstance(account, str) else address_of(account)
    row = Balance.objects.filter(account=address.lower(), token=token).first()
    return (int(row.total), int(row.held)) if row else (0, 0)


def token_sums() -> dict[int, Decimal]:
    """Every token's sum of balances over all accounts (fee account included, with the
    fees accrued to it that are not rolled up into its balance yet)."""
    sums: dict[int, Decimal] = {}
    for token_id, total in Balance.objects.values_list("token_id", "total"):
        sums[token_id] = sums.get(token_id, Decimal(0)) + total
    for token_id, amount in FeeAccrual.objects.values_list("token_id", "amount"):
        sums[token_id] = sums.get(token_id, Decimal(0)) + amount
    return sums


def snapshot() -> dict:
    """Every row trading may change, to compare before and after a refused request."""
    return {
        "balances": list(Balance.objects.order_by("id").values_list("id", "total", "held")),
        "orders": list(Order.objects.order_by("id").values_list("id", "filled", "status")),
        "ledger": LedgerEntry.objects.count(),
        "fee_accruals": FeeAccrual.objects.count(),
        "trades": Trade.objects.count(),
        "candles": list(Candle.objects.order_by("id").values()),
    }


def _funded(market, fund) -> LocalAccount:
    signer = new_signer()
    fund(signer, market.base, FUNDS)
    fund(signer, market.quote, FUNDS)
    return signer


@pytest.fixture
def maker(market, fund) -> LocalAccount:
    """A signer funded with FUNDS of the market's base and quote tokens."""
    return _funded(market, fund)


@pytest.fixture
def taker(market, fund) -> LocalAccount:
    """Another such signer."""
    return _funded(market, fund)
