"""The Candle table maintained trade by trade equals one rebuilt from the trades."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from exchange.models import CANDLE_PERIODS, Candle
from exchange.services.candles import candles_rebuild
from tests.trading import execute, fill, place

pytestmark = pytest.mark.django_db

ETH = 10**18
START = datetime(2026, 11, 19, 22, 0, tzinfo=UTC)


def candle_rows():
    return list(
        Candle.objects.order_by("market_id", "period", "bucket_start").values_list(
            "market_id", "period", "bucket_start", "open", "high", "low", "close",
            "base_volume", "quote_volume", "trade_count", "first_trade_id", "last_trade_id",
        )
    )  # fmt: skip


@pytest.fixture
def many_trades(network, market, fees, maker, taker):
    orders = [
        place(
            maker,
            give_token=market.base,
            give_amount=ETH,
            take_token=market.quote,
            take_amount=(1000 + 7 * i) * ETH,
        )
        for i in range(4)
    ] + [
        place(
            maker,
            give_token=market.quote,
            give_amount=(900 + 3 * i) * ETH,
            take_token=market.base,
            take_amount=ETH,
        )
        for i in range(3)
    ]
    trades = []
    for step in range(40):
        order = orders[step % len(orders)]
        amount = (order.take_amount // 50) + step
        # Mostly forward in time, sometimes back: open/close must follow trade ids.
        moment = START + timedelta(seconds=97 * step * (1 if step % 7 else -1) + 11)
        trades += execute(network, [fill(taker, order, amount)], at=moment)
    return trades


def test_the_maintained_candles_equal_the_rebuilt_ones(market, many_trades):
    maintained = candle_rows()
    assert candles_rebuild(market=market) == len(maintained)
    assert candle_rows() == maintained
    assert {row[1] for row in maintained} == set(CANDLE_PERIODS)
    day_total = sum(row[9] for row in maintained if row[1] == 86400)
    assert day_total == len(many_trades)


def test_the_rebuild_command_reports_each_market(market, many_trades):
    Candle.objects.all().delete()
    out = StringIO()
    call_command("rebuild_candles", "--market", market.name, stdout=out)
    assert f"market={market.name}" in out.getvalue()
    assert Candle.objects.filter(period=86400).exists()
