"""Issue #13, low finding: dust fills paid no fee, yet each costs the operator a trade()
of 150k-210k gas. A fill whose fees cannot pay for its settlement is refused unless its
market allows it. Here a settlement costs 0.01 TST (TST's trade gas fee, as in the demo);
Ether has no gas fee; fees are 0.1% maker, 0.2% taker."""

import pytest

from exchange.models import Trade
from exchange.services.errors import FieldError
from tests.trading import execute, fill, fill_payload, place

pytestmark = pytest.mark.django_db

ETH = TST = 10**18
SETTLEMENT_IN_TST = TST // 100


@pytest.fixture
def priced(market):
    """ETH_TST with TST priced, dust refused (the model's default)."""
    market.quote.trade_gas_fee = SETTLEMENT_IN_TST
    market.quote.save()
    market.allow_unpaid_settlement = False
    market.save()
    return market


@pytest.fixture
def bid(maker, priced):
    """The maker gives ETH (no gas fee) for TST: only its maker fee in TST can pay."""
    return place(
        maker, give_token=priced.base, give_amount=2 * ETH, take_token=priced.quote,
        take_amount=4000 * TST,
    )  # fmt: skip


def test_a_fill_whose_fees_cannot_pay_its_settlement_is_refused_in_the_specs_format(
    api, network, fees, taker, bid
):
    # 5 TST: a maker fee of 0.005 TST, half what a settlement costs.
    response = api.post("/create_trades", fill_payload(taker, bid, 5 * TST), format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 100
    [error] = body["validationErrors"]
    assert (error["field"], error["code"]) == ("amount", 1004)
    assert "too small to pay for its settlement" in error["reason"]
    assert not Trade.objects.exists()


def test_a_fill_whose_maker_fee_pays_its_settlement_is_booked(network, fees, taker, bid):
    [trade] = execute(network, [fill(taker, bid, 10 * TST)])  # maker fee 0.01 TST

    assert int(trade.maker_fee) == SETTLEMENT_IN_TST and int(trade.gas_fee) == 0


def test_a_fill_charged_the_gas_fee_pays_its_settlement(network, fees, maker, taker, priced):
    ask = place(
        maker, give_token=priced.quote, give_amount=3000 * TST, take_token=priced.base,
        take_amount=ETH,
    )  # fmt: skip

    [trade] = execute(network, [fill(taker, ask, ETH // 1000)])  # buys 3 TST

    assert int(trade.gas_fee) == SETTLEMENT_IN_TST


def test_a_market_with_no_settlement_price_refuses_every_fill_unless_allowed(
    network, fees, maker, taker, market
):
    market.allow_unpaid_settlement = False
    market.save()
    bid = place(
        maker, give_token=market.base, give_amount=2 * ETH, take_token=market.quote,
        take_amount=4000 * TST,
    )  # fmt: skip
    with pytest.raises(FieldError, match="too small to pay for its settlement"):
        execute(network, [fill(taker, bid, 1000 * TST)])

    market.allow_unpaid_settlement = True  # the operator's choice: it pays the gas
    market.save()
    [trade] = execute(network, [fill(taker, bid, 5 * TST)])
    assert int(trade.gas_fee) == 0
