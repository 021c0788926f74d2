"""The trades_settled benchmark scenario at a small count on the test anvil: it books
trades through trade_execute, the real settler settles them all, and the contract backs
the ledger afterwards. No figure is asserted (timings are noisy), only the outcome."""

import os
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from benchmarks.settlement_scenario import measure_trades_settled
from exchange.models import FeeSchedule, SettlementStatus, Trade

pytestmark = pytest.mark.django_db


def test_the_scenario_settles_every_trade_and_reconciliation_is_clean(deployment, chain_network):
    FeeSchedule.objects.create(
        network=chain_network,
        maker_fee=Decimal("0.001"),
        taker_fee=Decimal("0.002"),
        effective_at=timezone.now() - timedelta(hours=1),
    )
    accounts = [(a.address, a.key) for a in deployment.node.accounts[1:9]]
    lines = []

    figures = measure_trades_settled(
        network=chain_network,
        client=deployment.client,
        accounts=accounts,
        count=45,
        log=lines.append,
    )

    assert figures["count"] == figures["settled"] == figures["traded_on_chain"] == 45
    assert figures["differences"] == 0
    assert figures["throughput"] > 0 and figures["runs"] >= 1
    assert Trade.objects.count() == 45
    assert set(Trade.objects.values_list("settlement_status", flat=True)) == {
        SettlementStatus.SETTLED
    }
    # Fees were charged, and reconciliation found them on the contract's fee account.
    assert all(trade.maker_fee > 0 and trade.taker_fee > 0 for trade in Trade.objects.all())
    assert len(lines) == 2 and "differences 0" in lines[-1]


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("RUN_SLOW"), reason="a benchmark run: RUN_SLOW=1")
def test_measure_trades_settled_at_a_benchmark_count(deployment, chain_network):
    """RUN_SLOW=1 SETTLEMENT_BENCH_COUNT=500 pytest -s -p no:logging -k benchmark_count
    tests/benchmarks/test_settlement_scenario.py prints the figures (nothing timed is
    asserted)."""
    count = int(os.environ.get("SETTLEMENT_BENCH_COUNT", "500"))
    accounts = [(a.address, a.key) for a in deployment.node.accounts[1:9]]

    figures = measure_trades_settled(
        network=chain_network, client=deployment.client, accounts=accounts, count=count
    )

    print(figures)
    assert figures["settled"] == figures["traded_on_chain"] == count
    assert figures["differences"] == 0
