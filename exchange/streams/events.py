"""The events of each change, in the REST records' shapes (shared/STREAMS.md, Channels).

Called by the services inside their transactions; the records are built from the
objects in hand (a token's address and a market's name from per-process memos: both
are fixed once created), so most changes add no read. Transfers are read at the end of
the transaction (outbox.emit_later), once for all the transaction's transfers.
"""

from collections.abc import Iterable
from datetime import UTC

from django.db.models.signals import post_migrate, post_save

from exchange.commit_marks import Mark
from exchange.streams.outbox import channel_key, emit, emit_later

TRADE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_token_addresses: dict[int, str] = {}
# market id -> (network id, name, base decimals, quote decimals)
_market_facts_memo: dict[int, tuple[int, str, int, int]] = {}


def token_address(token_id: int) -> str:
    address = _token_addresses.get(token_id)
    if address is None:
        from exchange.models import Token

        address = Token.objects.values_list("address", flat=True).get(id=token_id)
        _token_addresses[token_id] = address
    return address


def market_name(market) -> str:
    """The name of the market in hand; its facts and its tokens' addresses refresh the
    memos too."""
    _token_addresses[market.base_id] = market.base.address
    _token_addresses[market.quote_id] = market.quote.address
    _market_facts_memo[market.id] = (
        market.network_id,
        market.name,
        market.base.decimals,
        market.quote.decimals,
    )
    return market.name


def memos_clear(**_kwargs) -> None:
    """Forgets every memo: a token or market changed, or the tables were emptied (a test
    database flushed reuses ids)."""
    _token_addresses.clear()
    _market_facts_memo.clear()


post_migrate.connect(memos_clear, dispatch_uid="streams_memos_clear_on_flush")
for _model in ("exchange.Token", "exchange.Market"):
    post_save.connect(memos_clear, sender=_model, dispatch_uid=f"streams_memos_{_model}")


def _market_name_of(market_id: int) -> str:
    return _market_facts(market_id)[1]


def _market(market_id: int):
    from exchange.models import Market

    return Market.objects.select_related("base", "quote").get(id=market_id)


def _market_facts(market_id: int) -> tuple[int, str, int, int]:
    """(network id, name, base decimals, quote decimals): fixed once the market exists."""
    if market_id not in _market_facts_memo:
        market_name(_market(market_id))
    return _market_facts_memo[market_id]


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


def transfer_created(transfer) -> None:
    """A transfer just written whose row is in hand (no read at the end)."""
    from exchange.selectors.transfers import transfer_record

    emit(
        transfer.network_id,
        f"account:{transfer.account}",
        "transfer",
        transfer_record(transfer, token_address(transfer.token_id)),
    )


def _transfer_events(ids: list[int]):
    from exchange.models import Transfer
    from exchange.selectors.transfers import transfer_record

    for transfer in Transfer.objects.filter(id__in=ids).order_by("id"):
        yield (
            channel_key(transfer.network_id, f"account:{transfer.account}"),
            "transfer",
            transfer_record(transfer, token_address(transfer.token_id)),
        )


def candles_changed(market_id: int, rows: Iterable[tuple]) -> None:
    """Each candle as it now stands, as in POST /get_chart_data, to
    candles:<MARKET>:<period>; rows are (period, *CANDLE_RECORD_FIELDS)."""
    from exchange.selectors.market_data import candle_record

    network_id, name, base_decimals, quote_decimals = _market_facts(market_id)
    for period, *fields in sorted(rows, key=lambda row: (row[0], row[1])):
        record = candle_record(tuple(fields), base_decimals, quote_decimals)
        emit(network_id, f"candles:{name}:{period}", "candle", record)


# The ticker of a market is sent at most once a second: the first trade after a quiet
# second schedules one, sent a second later, and the trades in between share it.
TICKER_INTERVAL_SECONDS = 1


def ticker_mark(market) -> Mark:
    """The mark that schedules the market's ticker event (a Celery task a second later)
    for the commit that sets it: one event a second at most, whatever the trades' rate
    (set with exchange/commit_marks.py, once the fill commits)."""
    market_id = market.id
    return Mark(
        key=f"streams:ticker:{market_id}",
        seconds=TICKER_INTERVAL_SECONDS,
        then=lambda: _ticker_schedule(market_id),
    )


def _ticker_schedule(market_id: int) -> None:
    from celery import current_app

    # By name: the task (exchange/tasks.py, ticker_publish_task) sits above this layer.
    current_app.send_task(
        "exchange.streams_ticker", (market_id,), countdown=TICKER_INTERVAL_SECONDS
    )


def ticker_publish(market_id: int) -> bool:
    """The market's ticker as in POST /get_ticker, to ticker:<MARKET>, as one event in
    a transaction of its own. False if the market is gone."""
    from django.db import transaction

    from exchange.models import Market
    from exchange.selectors.market_data import ticker_get

    market = Market.objects.select_related("base", "quote").filter(id=market_id).first()
    if market is None:
        return False
    with transaction.atomic():
        record = ticker_get(market=market)
        emit(market.network_id, f"ticker:{market_name(market)}", "ticker", record)
    return True
