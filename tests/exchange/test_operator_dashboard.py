"""The operator dashboard: markets with 24h volume, networks, and the switches."""

import json
import socket
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from chain.models import ReconciliationRun, WatcherCursor
from exchange.models import (
    Balance,
    Market,
    MarketStatus,
    Network,
    Order,
    OrderSide,
    SettlementStatus,
    Trade,
    Transfer,
    TransferKind,
    TransferStatus,
)
from exchange.services.deposits import deposit_credit
from exchange.services.trade_settlement import settlement_halt
from relayer.dashboard.figures import UNREACHABLE
from tests.factories import NetworkFactory, TokenFactory

pytestmark = pytest.mark.django_db

URL = "/admin/dashboard/"
ACCOUNT = "0x" + "33" * 20


@pytest.fixture
def operator() -> Client:
    user = get_user_model().objects.create_superuser("op", "op@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def _trade(market: Market, index: int, quote: int, base: int, at=None) -> Trade:
    order = Order.objects.create(
        network=market.network,
        market=market,
        account="0x" + "11" * 20,
        give_token=market.quote,
        give_amount=quote,
        take_token=market.base,
        take_amount=base,
        nonce=index,
        expiry_ms=2**40,
        hash=f"0x{index:064x}",
        signature="0x",
        side=OrderSide.ASK,
        price=Decimal(1),
    )
    trade = Trade.objects.create(
        network=market.network,
        market=market,
        order=order,
        maker=order.account,
        taker="0x" + "22" * 20,
        give_token=market.quote,
        give_amount=quote,
        take_token=market.base,
        take_amount=base,
        hash=f"0x{index + 1000:064x}",
        nonce=index,
        signature="0x",
        price=Decimal(1),
        quote_amount=quote,
        base_amount=base,
        taker_side="buy",
    )
    if at is not None:
        Trade.objects.filter(pk=trade.pk).update(created_at=at)
    return trade


def test_the_admin_index_links_the_dashboard(operator):
    assert URL.encode() in operator.get("/admin/").content


def test_it_is_for_staff_only(api, network):
    assert api.get(URL).status_code == 302  # to the admin login


def test_it_shows_markets_with_their_24h_volume(operator, market):
    _trade(market, 1, quote=2 * 10**18, base=10**17)
    _trade(market, 2, quote=3 * 10**18, base=2 * 10**17)
    _trade(market, 3, quote=7 * 10**18, base=10**18, at=timezone.now() - timedelta(hours=25))
    response = operator.get(URL)
    assert response.status_code == 200
    (row,) = response.context["markets"]
    assert row["trades_24h"] == 2
    assert row["base_volume_24h"] == Decimal("0.3")
    assert row["quote_volume_24h"] == Decimal(5)
    page = response.content.decode()
    assert "ETH_TST" in page and "0.3 ETH" in page and "5 TST" in page


def test_it_halts_a_market_and_sets_it_cancel_only(operator, market):
    for status in (MarketStatus.HALTED, MarketStatus.CANCEL_ONLY, MarketStatus.TRADING):
        response = operator.post(
            URL, {"action": "market_status", "market": market.pk, "status": status}, follow=True
        )
        assert response.status_code == 200
        market.refresh_from_db()
        assert market.status == status


def test_it_refuses_an_unknown_status(operator, market):
    operator.post(URL, {"action": "market_status", "market": market.pk, "status": "BOGUS"})
    market.refresh_from_db()
    assert market.status == MarketStatus.TRADING


def test_it_disables_and_enables_order_submission(operator, network):
    operator.post(URL, {"action": "order_submission", "network": network.pk, "enabled": "0"})
    assert not Network.objects.get(pk=network.pk).order_submission_enabled
    response = operator.get(URL)
    assert "Enable order submission" in response.content.decode()
    operator.post(URL, {"action": "order_submission", "network": network.pk, "enabled": "1"})
    assert Network.objects.get(pk=network.pk).order_submission_enabled


def test_staff_without_the_permission_cannot_switch(market):
    user = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    client = Client()
    client.force_login(user)
    response = client.post(
        URL, {"action": "market_status", "market": market.pk, "status": MarketStatus.HALTED}
    )
    assert response.status_code == 403
    market.refresh_from_db()
    assert market.status == MarketStatus.TRADING


# ---- per-network chain figures ----


def _figures(client: Client, network_id: int) -> dict:
    response = client.get(URL)
    assert response.status_code == 200
    (row,) = [row for row in response.context["chain"] if row["network"].id == network_id]
    return row


@pytest.fixture
def silent_node():
    """A TCP port that accepts connections and never answers: a hung node."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        server.close()


def test_a_hung_node_shows_unreachable_and_the_answer_is_cached(
    operator, network, silent_node, settings
):
    settings.DASHBOARD_NODE_TIMEOUT = 1
    Network.objects.filter(pk=network.pk).update(rpc_url=silent_node)
    WatcherCursor.objects.create(network=network, block_number=40)
    row = _figures(operator, network.id)
    assert row["head"] == UNREACHABLE and row["lag"] is None and row["scanned_block"] == 40
    assert cache.get(f"dashboard:head:{network.id}") == UNREACHABLE
    assert "node unreachable" in operator.get(URL).content.decode()


def test_a_stopped_node_shows_unreachable(operator, network):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    Network.objects.filter(pk=network.pk).update(rpc_url=closed)
    assert _figures(operator, network.id)["head"] == UNREACHABLE


def test_the_watcher_lag_is_the_head_minus_the_cursor(operator, chain_network, deployment):
    head = int(deployment.node.rpc("eth_blockNumber"), 16)
    row = _figures(operator, chain_network.id)
    assert row["head"] == head and row["lag"] is None  # the watcher has not started
    cache.clear()
    WatcherCursor.objects.create(network=chain_network, block_number=head - 2)
    deployment.node.mine(3)
    row = _figures(operator, chain_network.id)
    assert (row["scanned_block"], row["head"], row["lag"]) == (head - 2, head + 3, 5)
    assert "5 blocks" in operator.get(URL).content.decode()


def _transfer(token, kind, status, *, age: timedelta = timedelta(0), **fields) -> Transfer:
    transfer = Transfer.objects.create(
        network=token.network,
        kind=kind,
        account=ACCOUNT,
        token=token,
        amount=fields.pop("amount", 2_500_000),
        status=status,
        **fields,
    )
    Transfer.objects.filter(pk=transfer.pk).update(created_at=timezone.now() - age)
    transfer.refresh_from_db()
    return transfer


def test_it_counts_deposits_waiting_and_withdrawals_by_status(operator, network, settings):
    settings.DASHBOARD_STUCK_SECONDS = 600
    six = TokenFactory(network=network, symbol="SIX", decimals=6)
    other_network = NetworkFactory()
    elsewhere = TokenFactory(network=other_network, symbol="OTH")
    D, W, S = TransferKind.DEPOSIT, TransferKind.WITHDRAWAL, TransferStatus
    old = _transfer(
        six,
        D,
        S.PENDING,
        age=timedelta(hours=2),
        block_number=1,
        log_index=0,
        transaction_hash="0x1",
    )
    _transfer(six, D, S.PENDING, block_number=2, log_index=0, transaction_hash="0x2")
    _transfer(six, D, S.COMPLETE, block_number=3, log_index=0, transaction_hash="0x3")
    _transfer(elsewhere, D, S.PENDING, block_number=4, log_index=0, transaction_hash="0x4")
    fresh_pending = _transfer(six, W, S.PENDING)
    stuck_pending = _transfer(six, W, S.PENDING, age=timedelta(hours=1))
    stuck_processing = _transfer(six, W, S.PROCESSING, age=timedelta(hours=1))
    failed = _transfer(six, W, S.FAILED, error="reverted")
    _transfer(six, W, S.COMPLETE, age=timedelta(hours=1))
    _transfer(elsewhere, W, S.FAILED)
    row = _figures(operator, network.id)
    assert row["deposits_waiting"] == 2 and row["deposits_oldest"] == old.created_at
    assert (row["withdrawals_pending"], row["withdrawals_processing"]) == (2, 1)
    assert row["withdrawals_failed"] == 1
    listed = {w.id: w for w in row["withdrawals_needing_attention"]}
    assert set(listed) == {stuck_pending.id, stuck_processing.id, failed.id}
    assert fresh_pending.id not in listed
    assert listed[failed.id].human_amount == Decimal("2.5")
    assert listed[failed.id].retryable and listed[stuck_pending.id].retryable
    assert not listed[stuck_processing.id].retryable  # the confirmer owns it
    page = operator.get(URL).content.decode()
    assert "2.5 SIX" in page and f'id="withdrawal-{failed.id}"' in page


def test_it_counts_unsettled_trades_and_the_oldest(operator, market):
    first = _trade(market, 1, quote=10**18, base=10**17, at=timezone.now() - timedelta(hours=3))
    second = _trade(market, 2, quote=10**18, base=10**17, at=timezone.now() - timedelta(hours=1))
    settled = _trade(market, 3, quote=10**18, base=10**17, at=timezone.now() - timedelta(hours=9))
    Trade.objects.filter(pk=settled.pk).update(settlement_status=SettlementStatus.SETTLED)
    Trade.objects.filter(pk=second.pk).update(settlement_status=SettlementStatus.FAILED)
    first.refresh_from_db()
    row = _figures(operator, market.network_id)
    assert (row["trades_unsettled"], row["trades_failed"]) == (2, 1)
    assert row["trades_oldest_unsettled"] == first.created_at


def test_it_shows_the_last_reconciliation(operator, network):
    assert _figures(operator, network.id)["reconciliation"] is None
    ReconciliationRun.objects.create(network=network, ok=True, balances_checked=12)
    latest = ReconciliationRun.objects.create(
        network=network,
        ok=False,
        balances_checked=12,
        differences=json.dumps([{"check": "balance"}, {"check": "holdings"}]),
    )
    row = _figures(operator, network.id)
    assert row["reconciliation"] == latest and row["reconciliation_differences"] == 2
    assert "2 differences" in operator.get(URL).content.decode()


def test_it_shows_a_settlement_halt_and_resumes_it(operator, network):
    settlement_halt(network_id=network.id, reason="trade 7: refused")
    page = operator.get(URL).content.decode()
    assert "settlement HALTED" in page and "trade 7: refused" in page
    response = operator.post(
        URL, {"action": "settlement_resume", "network": network.pk}, follow=True
    )
    assert "Settlement resumed" in response.content.decode()
    assert not Network.objects.get(pk=network.pk).settlement_halted


def test_it_retries_a_failed_withdrawal(operator, network):
    six = TokenFactory(network=network, symbol="SIX", decimals=6)
    deposit_credit(token=six, account=ACCOUNT, amount=5_000_000, reference="deposit:1")
    failed = _transfer(six, TransferKind.WITHDRAWAL, TransferStatus.FAILED)
    response = operator.post(
        URL, {"action": "withdrawal_retry", "withdrawal": failed.pk}, follow=True
    )
    assert "held again" in response.content.decode()
    failed.refresh_from_db()
    assert failed.status == TransferStatus.PENDING
    assert Balance.objects.get(account=ACCOUNT, token=six).held == 2_500_000


def test_it_refuses_to_retry_a_processing_withdrawal(operator, network):
    six = TokenFactory(network=network, symbol="SIX", decimals=6)
    sent = _transfer(six, TransferKind.WITHDRAWAL, TransferStatus.PROCESSING)
    response = operator.post(
        URL, {"action": "withdrawal_retry", "withdrawal": sent.pk}, follow=True
    )
    assert "not retried" in response.content.decode()
    assert Transfer.objects.get(pk=sent.pk).status == TransferStatus.PROCESSING


@pytest.mark.parametrize(
    ("action", "permission"),
    [("settlement_resume", "network"), ("withdrawal_retry", "transfer")],
)
def test_staff_without_the_permission_cannot_resume_or_retry(network, action, permission):
    settlement_halt(network_id=network.id, reason="x")
    user = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    client = Client()
    client.force_login(user)
    response = client.post(URL, {"action": action, "network": network.pk, "withdrawal": "1"})
    assert response.status_code == 403
    assert Network.objects.get(pk=network.pk).settlement_halted
