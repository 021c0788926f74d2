"""Settlement states, quarantine, the operator's halt, and what operators see and do in the admin."""

import pytest
from django.urls import reverse

from exchange.models import Network, SettlementStatus, Trade
from exchange.services.trade_settlement import (
    settlement_halt,
    settlement_resume,
    trade_settlement_complete,
    trade_settlement_fail,
    trade_settlement_retry,
)
from tests.trading import execute, fill, place

pytestmark = pytest.mark.django_db

ONE = 10**18


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def trades(network, market, fees, maker, taker) -> list[Trade]:
    order = place(
        maker,
        give_token=market.quote,
        give_amount=100 * ONE,
        take_token=market.base,
        take_amount=ONE,
    )
    return execute(network, [fill(taker, order, ONE // 4), fill(taker, order, ONE // 2)])


def reloaded(trade: Trade) -> Trade:
    return Trade.objects.get(id=trade.id)


def test_a_refused_trade_is_quarantined_once_with_its_reason_and_halts_nothing(network, trades):
    first, second = trades

    assert trade_settlement_fail(trade_id=first.id, reason="Exchange: maker balance too low")
    assert not trade_settlement_fail(trade_id=first.id, reason="again")
    assert trade_settlement_fail(trade_id=second.id, reason="another")

    network.refresh_from_db()
    assert not network.settlement_halted
    assert reloaded(first).settlement_status == SettlementStatus.FAILED
    assert reloaded(first).settlement_error == "Exchange: maker balance too low"


def test_a_settled_trade_is_never_failed_nor_settled_again(network, trades):
    trade = trades[0]
    assert trade_settlement_complete(
        trade_id=trade.id, transaction_hash="0x" + "1" * 64, block_number=5, gas_used=90_000
    )

    assert not trade_settlement_complete(
        trade_id=trade.id, transaction_hash="0x" + "2" * 64, block_number=6, gas_used=1
    )
    assert not trade_settlement_fail(trade_id=trade.id, reason="late")
    trade = reloaded(trade)
    assert trade.settlement_status == SettlementStatus.SETTLED
    assert (trade.transaction_hash, trade.gas_used) == ("0x" + "1" * 64, 90_000)
    assert not Network.objects.get(pk=network.pk).settlement_halted


def test_resume_lifts_the_halt_and_retry_queues_only_failed_trades(network, trades):
    first, second = trades
    trade_settlement_fail(trade_id=first.id, reason="refused")
    settlement_halt(network_id=network.id, reason="operator: investigating")

    assert not trade_settlement_retry(trade_id=second.id)  # UNSETTLED: nothing to retry
    assert trade_settlement_retry(trade_id=first.id)
    assert settlement_resume(network_id=network.id)
    assert not settlement_resume(network_id=network.id)

    first = reloaded(first)
    assert first.settlement_status == SettlementStatus.UNSETTLED and first.settlement_error == ""
    network.refresh_from_db()
    assert not network.settlement_halted and network.settlement_halt_reason == ""


def test_operators_see_a_halted_network_loudly_and_resume_it(admin_client, network, trades):
    settlement_halt(network_id=network.id, reason="operator: maker balance too low")

    listing = admin_client.get(reverse("admin:exchange_network_changelist"))
    page = admin_client.get(reverse("admin:exchange_network_change", args=[network.pk]))
    filtered = admin_client.get(
        reverse("admin:exchange_network_changelist") + "?settlement_halted__exact=1"
    )

    for response in (listing, page):
        text = response.content.decode()
        assert "Settlement is HALTED" in text and "maker balance too low" in text
    assert "HALTED" in filtered.content.decode() and filtered.context["cl"].result_count == 1

    response = admin_client.post(
        reverse("admin:exchange_network_changelist"),
        {"action": "resume_settlement", "_selected_action": [network.pk]},
        follow=True,
    )

    assert "Settlement resumed on 1 network(s)" in response.content.decode()
    assert not Network.objects.get(pk=network.pk).settlement_halted


def test_operators_find_failed_trades_and_retry_them(admin_client, network, trades):
    first, second = trades
    trade_settlement_fail(trade_id=first.id, reason="Exchange: maker balance too low")
    url = reverse("admin:exchange_trade_changelist")

    failed = admin_client.get(url + "?settlement_status__exact=FAILED")
    detail = admin_client.get(reverse("admin:exchange_trade_change", args=[first.pk]))

    assert failed.context["cl"].result_count == 1
    assert "maker balance too low" in failed.content.decode()
    assert "1 trade(s) quarantined" in failed.content.decode()
    assert detail.status_code == 200 and "raw_transaction" not in detail.content.decode()

    response = admin_client.post(
        url, {"action": "retry_settlement", "_selected_action": [first.pk, second.pk]}, follow=True
    )

    assert "1 trade(s) queued for settlement again" in response.content.decode()
    assert [reloaded(t).settlement_status for t in trades] == ["UNSETTLED", "UNSETTLED"]
    assert admin_client.get(reverse("admin:exchange_trade_add")).status_code == 403
