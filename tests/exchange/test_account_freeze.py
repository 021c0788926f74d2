"""Issue #16: an operator freezes an account (admin), with a reason: its open orders are
cancelled and their holds released; its orders, trades and withdrawals are refused with
code 102; deposits are still credited; unfreezing lets it trade again. Every freeze is
kept with who, when and why."""

import pytest

from exchange.models import AccountRestriction, CloseReason, Order, OrderStatus, RestrictionKind
from exchange.services.deposits import deposit_credit
from tests.exchange.test_withdrawals import signed_withdrawal
from tests.reliability.invariants import (
    assert_balances_are_their_ledger,
    assert_holds_are_open_orders_plus_pending_withdrawals,
)
from tests.signing import address_of, signed_order
from tests.trading import balance, fill_payload, place, snapshot

pytestmark = pytest.mark.django_db


def bid(maker, market, tst=100 * 10**18):
    return place(
        maker, give_token=market.base, give_amount=10**17, take_token=market.quote, take_amount=tst
    )


@pytest.fixture
def frozen(admin_client, market, maker):
    """The maker with two open orders, frozen through the admin's add form."""
    orders = [bid(maker, market), bid(maker, market, 200 * 10**18)]
    response = admin_client.post(
        "/admin/exchange/operatorfreeze/add/",
        {"network": market.network.id, "account": address_of(maker), "reason": "KYC review"},
    )
    assert response.status_code == 302, response.content[:2000]
    return orders


def test_a_freeze_cancels_the_open_orders_and_releases_their_holds(market, maker, frozen):
    for order in frozen:
        order.refresh_from_db()
        assert (order.status, order.close_reason) == (
            OrderStatus.CANCELLED,
            CloseReason.ACCOUNT_FROZEN,
        )
    assert balance(maker, market.base)[1] == 0
    freeze = AccountRestriction.objects.get(kind=RestrictionKind.OPERATOR)
    assert (freeze.reason, freeze.created_by, freeze.resolved_at) == ("KYC review", "admin", None)
    assert_holds_are_open_orders_plus_pending_withdrawals(market.network)
    assert_balances_are_their_ledger(market.network)


def test_a_frozen_accounts_orders_trades_and_withdrawals_are_refused_with_102(
    api, market, maker, taker, frozen
):
    other = bid(taker, market)  # taker's own order, filled by the frozen maker
    before = snapshot()
    order = signed_order(
        maker,
        contract=market.network.exchange_address,
        give_token=market.base,
        give_amount=10**17,
        take_token=market.quote,
        take_amount=100 * 10**18,
    )
    withdrawal = signed_withdrawal(maker, network=market.network, token=market.base, amount=10**17)
    withdrawal_body = {
        "account": withdrawal["account"],
        "tokenAddress": withdrawal["token_address"],
        "amount": str(withdrawal["amount"]),
        "nonce": str(withdrawal["nonce"]),
        "signature": withdrawal["signature"],
    }
    for path, body in (
        ("/create_orders", order),
        ("/create_trades", fill_payload(maker, other, 10**18)),
        ("/create_transfers", withdrawal_body),
    ):
        response = api.post(path, body, format="json")
        assert (response.status_code, response.json()["code"]) == (400, 102), path
        assert "frozen by the operator: KYC review" in response.json()["reason"]
    assert snapshot() == before


def test_a_frozen_account_is_still_credited_its_deposits(market, maker, frozen):
    total = balance(maker, market.base)[0]
    deposit_credit(token=market.base, account=address_of(maker), amount=5, reference="d1")
    assert balance(maker, market.base)[0] == total + 5


def test_unfreezing_lets_the_account_trade_again_and_keeps_the_record(
    admin_client, market, maker, frozen
):
    freeze = AccountRestriction.objects.get(kind=RestrictionKind.OPERATOR)
    response = admin_client.post(
        "/admin/exchange/operatorfreeze/",
        {"action": "unfreeze", "_selected_action": [freeze.pk]},
    )
    assert response.status_code == 302

    bid(maker, market)

    freeze.refresh_from_db()
    assert freeze.resolved_at is not None and freeze.resolved_by == "admin"
    assert Order.objects.filter(status=OrderStatus.OPEN).count() == 1


def test_a_freezes_cancellations_reach_the_book_and_account_streams(market, maker, frozen):
    from exchange.models import StreamEvent

    account = address_of(maker).lower()
    for channel in (f"account:{account}", f"book:{market.name}"):
        cancelled = [
            event.data["orderHash"]
            for event in StreamEvent.objects.filter(
                channel=f"{market.network.id}/{channel}", type="order"
            )
            if event.data["status"] == "cancelled"
        ]
        assert sorted(cancelled) == sorted(order.hash for order in frozen), channel
