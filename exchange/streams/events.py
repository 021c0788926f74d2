"""The events of each change, in the REST records' shapes (shared/STREAMS.md, Channels).

Called by the services inside their transactions; the records are built from the
objects in hand (a token's address and a market's name from per-process memos: both
are fixed once created), so most changes add no read. Transfers are read at the end of
the transaction (outbox.emit_later), once for all the transaction's transfers.
"""

from collections.abc import Iterable
from datetime import UTC

from django.db.models.signals import post_migrate, post_save

from exchange.streams.outbox import channel_key, emit, emit_later

TRADE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_token_addresses: dict[int, str] = {}
_market_names: dict[int, str] = {}


def token_address(token_id: int) -> str:
    address = _token_addresses.get(token_id)
    if address is None:
        from exchange.models import Token

        address = Token.objects.values_list("address", flat=True).get(id=token_id)
        _token_addresses[token_id] = address
    return address


def market_name(market) -> str:
    """The name of the market in hand; its tokens' addresses refresh the memo too."""
    _market_names[market.id] = market.name
    _token_addresses[market.base_id] = market.base.address
    _token_addresses[market.quote_id] = market.quote.address
    return market.name


def memos_clear(**_kwargs) -> None:
    """Forgets every memo: a token or market changed, or the tables were emptied (a test
    database flushed reuses ids)."""
    _token_addresses.clear()
    _market_names.clear()


post_migrate.connect(memos_clear, dispatch_uid="streams_memos_clear_on_flush")
for _model in ("exchange.Token", "exchange.Market"):
    post_save.connect(memos_clear, sender=_model, dispatch_uid=f"streams_memos_{_model}")


def _market_name_of(market_id: int) -> str:
    name = _market_names.get(market_id)
    if name is None:
        from exchange.models import Market

        market = Market.objects.select_related("base", "quote").get(id=market_id)
        name = market_name(market)
    return name


def order_event_record(order) -> dict:
    """An order as in POST /get_orderbook, with its `status` (open, filled, ...)."""
    return {
        "account": order.account,
        "giveTokenAddress": token_address(order.give_token_id),
        "giveAmount": str(order.give_amount),
        "takeTokenAddress": token_address(order.take_token_id),
        "takeAmount": str(order.take_amount),
        "filled": str(order.filled),
        "nonce": str(order.nonce),
        "expiryTimestampInMilliseconds": str(order.expiry_ms),
        "orderHash": order.hash,
        "created_at": str(int(order.created_at.timestamp())),
        "status": str(order.status).lower(),
    }


def orders_changed(orders: Iterable, market=None) -> None:
    """Each order's current state to book:<MARKET> and account:<owner>."""
    for order in orders:
        name = market_name(market) if market is not None else _market_name_of(order.market_id)
        record = order_event_record(order)
        emit(order.network_id, f"book:{name}", "order", record)
        emit(order.network_id, f"account:{order.account}", "order", record)


def trade_event_record(trade, order) -> dict:
    """A trade as in POST /get_trades."""
    return {
        "id": str(trade.id),
        "giveTokenAddress": token_address(trade.give_token_id),
        "giveAmount": str(trade.give_amount),
        "takeTokenAddress": token_address(trade.take_token_id),
        "takeAmount": str(trade.take_amount),
        "orderHash": order.hash,
        "uuid": str(trade.uuid),
        "buyerFee": str(trade.buyer_fee),
        "sellerFee": str(trade.seller_fee),
        "gasFee": str(trade.gas_fee),
        "makerAddress": trade.maker,
        "takerAddress": trade.taker,
        "transactionHash": trade.transaction_hash or None,
        "created_at": trade.created_at.astimezone(UTC).strftime(TRADE_TIME_FORMAT),
    }


def trades_created(market, trades: Iterable) -> None:
    """Each trade to trades:<MARKET> and to its maker's and taker's account channels."""
    name = market_name(market)
    for trade in trades:
        record = trade_event_record(trade, trade.order)
        emit(trade.network_id, f"trades:{name}", "trade", record)
        emit(trade.network_id, f"account:{trade.maker}", "trade", record)
        if trade.taker != trade.maker:
            emit(trade.network_id, f"account:{trade.taker}", "trade", record)


def balances_changed(balances: Iterable) -> None:
    """Each balance as in GET /accounts/:address, to account:<owner>."""
    for balance in balances:
        emit(
            balance.network_id,
            f"account:{balance.account}",
            "balance",
            {
                "token": token_address(balance.token_id),
                "balance": str(balance.total),
                "holdBalance": str(balance.held),
            },
        )


def transfers_changed(ids: Iterable[int]) -> None:
    """Each transfer as in POST /get_transfers, read at the end of the transaction."""
    ids = sorted(set(ids))
    if ids:
        emit_later(lambda: _transfer_events(ids))


def transfer_event_record(transfer) -> dict:
    """A transfer as in POST /get_transfers."""
    return {
        "id": str(transfer.id),
        "type": transfer.kind,
        "token": token_address(transfer.token_id),
        "amount": str(transfer.amount),
        "status": transfer.status,
        "transactionHash": transfer.transaction_hash or None,
        "blockHash": transfer.block_hash or None,
        "blockNumber": transfer.block_number,
        "created_at": str(int(transfer.created_at.timestamp())),
    }


def transfer_created(transfer) -> None:
    """A transfer just written whose row is in hand (no read at the end)."""
    emit(
        transfer.network_id,
        f"account:{transfer.account}",
        "transfer",
        transfer_event_record(transfer),
    )


def _transfer_events(ids: list[int]):
    from exchange.models import Transfer

    for transfer in Transfer.objects.filter(id__in=ids).order_by("id"):
        yield (
            channel_key(transfer.network_id, f"account:{transfer.account}"),
            "transfer",
            transfer_event_record(transfer),
        )
