"""The money admin (orders, balances, ledger, trades, transfers): view only, amounts in
base and human units, filters and searches that render."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from exchange.models import (
    Balance,
    LedgerEntry,
    Order,
    OrderSide,
    Trade,
    Transfer,
    TransferKind,
    TransferStatus,
)
from exchange.services.deposits import deposit_credit
from tests.factories import DepositFactory, MarketFactory, TokenFactory

pytestmark = pytest.mark.django_db

MAKER = "0x" + "11" * 20
TAKER = "0x" + "22" * 20
MONEY_MODELS = [Order, Balance, LedgerEntry, Trade, Transfer]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:exchange_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def six(network):
    return TokenFactory(network=network, symbol="SIX", name="Six", decimals=6)


@pytest.fixture
def money(network, ether, six):
    """One of each money row, in a 6-decimal quote token: 1.5 SIX deposited."""
    market = MarketFactory(network=network, base=ether, quote=six)
    deposit_credit(token=six, account=MAKER, amount=1_500_000, reference="deposit:1")
    order = Order.objects.create(
        network=network,
        market=market,
        account=MAKER,
        give_token=six,
        give_amount=1_500_000,
        take_token=ether,
        take_amount=3 * 10**17,
        nonce=1,
        expiry_ms=2**40,
        hash="0x" + "ab" * 32,
        signature="0x",
        side=OrderSide.ASK,
        price=Decimal("0.2"),
    )
    trade = Trade.objects.create(
        network=network,
        market=market,
        order=order,
        maker=MAKER,
        taker=TAKER,
        give_token=six,
        give_amount=500_000,
        take_token=ether,
        take_amount=10**17,
        hash="0x" + "cd" * 32,
        nonce=1,
        signature="0x",
        maker_fee=10**14,
        taker_fee=1_000,
        gas_fee=2_000,
        gas_fee_token=six,
        price=Decimal("0.2"),
        quote_amount=500_000,
        base_amount=10**17,
        taker_side="sell",
    )
    transfer = DepositFactory(network=network, token=six, account=MAKER, amount=1_500_000)
    return {
        Order: order,
        Balance: Balance.objects.get(account=MAKER, token=six),
        LedgerEntry: LedgerEntry.objects.get(reference="deposit:1"),
        Trade: trade,
        Transfer: transfer,
    }


@pytest.mark.parametrize("model", MONEY_MODELS, ids=lambda m: m.__name__)
def test_the_money_admin_refuses_to_add_change_or_delete(admin_client, money, model):
    obj = money[model]
    before = model.objects.filter(pk=obj.pk).values().get()
    assert admin_client.get(_url(model, "add")).status_code == 403
    assert admin_client.post(_url(model, "add"), {}).status_code == 403
    assert admin_client.post(_url(model, "change", obj.pk), {"status": "X"}).status_code == 403
    assert admin_client.get(_url(model, "delete", obj.pk)).status_code == 403
    assert admin_client.post(_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    bulk = admin_client.post(
        _url(model, "changelist"),
        {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302)
    assert model.objects.filter(pk=obj.pk).values().get() == before


@pytest.mark.parametrize("model", MONEY_MODELS, ids=lambda m: m.__name__)
def test_the_money_admin_shows_each_row_read_only(admin_client, money, model):
    response = admin_client.get(_url(model, "change", money[model].pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="_save"' not in page and "Delete" not in page
    changelist = admin_client.get(_url(model, "changelist")).content.decode()
    assert f'href="{_url(model, "add")}"' not in changelist
    assert "delete_selected" not in changelist


@pytest.mark.parametrize(
    ("model", "query", "shown"),
    [
        (Order, {}, 1),
        (Order, {"status__exact": "OPEN", "side__exact": "ASK"}, 1),
        (Order, {"status__exact": "FILLED"}, 0),
        (Order, {"q": MAKER.upper().replace("0X", "0x")}, 1),
        (Order, {"q": "0x" + "ab" * 32}, 1),
        (Order, {"q": "0x" + "99" * 20}, 0),
        (Balance, {"q": MAKER}, 1),
        (Balance, {"q": TAKER}, 0),
        (LedgerEntry, {"kind__exact": "DEPOSIT"}, 1),
        (LedgerEntry, {"kind__exact": "TRADE"}, 0),
        (LedgerEntry, {"q": "deposit:1"}, 1),
        (LedgerEntry, {"q": MAKER}, 1),
        (Trade, {"settlement_status__exact": "UNSETTLED"}, 1),
        (Trade, {"settlement_status__exact": "SETTLED"}, 0),
        (Trade, {"q": TAKER}, 1),
        (Trade, {"q": "not-a-uuid"}, 0),
        (Transfer, {"kind__exact": TransferKind.DEPOSIT, "status__exact": "PENDING"}, 1),
        (Transfer, {"kind__exact": TransferKind.WITHDRAWAL}, 0),
        (Transfer, {"q": MAKER}, 1),
    ],
)
def test_money_changelists_filter_and_search(admin_client, money, model, query, shown):
    response = admin_client.get(_url(model, "changelist"), query)
    assert response.status_code == 200
    assert response.context["cl"].result_count == shown


def test_a_trade_is_found_by_its_uuid(admin_client, money):
    response = admin_client.get(_url(Trade, "changelist"), {"q": str(money[Trade].uuid)})
    assert response.context["cl"].result_count == 1


@pytest.mark.parametrize("model", MONEY_MODELS, ids=lambda m: m.__name__)
def test_amounts_show_in_base_and_human_units(admin_client, money, model):
    page = admin_client.get(_url(model, "changelist")).content.decode()
    if model is Trade:
        # 0.5 SIX given, 0.1 ETH taken; fees: 0.0001 ETH, 0.001 SIX, 0.002 SIX.
        for text in ("500000", "0.5 SIX", "0.1 ETH", "0.0001 ETH", "0.001 SIX", "0.002 SIX"):
            assert text in page
    else:
        assert "1500000" in page and "1.5 SIX" in page


def test_staff_with_view_permission_only_can_read_the_money_admin(money):
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user("auditor", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_order"))
    client = Client()
    client.force_login(user)
    assert client.get(_url(Order, "changelist")).status_code == 200
    assert client.get(_url(Balance, "changelist")).status_code == 403


def test_a_failed_withdrawal_is_retried_from_the_transfer_admin(admin_client, network, six):
    deposit_credit(token=six, account=MAKER, amount=2_000_000, reference="deposit:9")
    withdrawal = Transfer.objects.create(
        network=network,
        kind=TransferKind.WITHDRAWAL,
        account=MAKER,
        token=six,
        amount=1_000_000,
        status=TransferStatus.FAILED,
        error="reverted in 0x…",
    )
    admin_client.post(
        _url(Transfer, "changelist"),
        {"action": "retry_withdrawal", "_selected_action": [withdrawal.pk]},
    )
    withdrawal.refresh_from_db()
    assert withdrawal.status == TransferStatus.PENDING
    assert Balance.objects.get(account=MAKER, token=six).held == 1_000_000


def test_a_viewer_cannot_retry_a_withdrawal(network, six):
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user("auditor", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_transfer"))
    client = Client()
    client.force_login(user)
    withdrawal = Transfer.objects.create(
        network=network,
        kind=TransferKind.WITHDRAWAL,
        account=MAKER,
        token=six,
        amount=1,
        status=TransferStatus.FAILED,
    )
    page = client.get(_url(Transfer, "changelist")).content.decode()
    assert "retry_withdrawal" not in page
    client.post(
        _url(Transfer, "changelist"),
        {"action": "retry_withdrawal", "_selected_action": [withdrawal.pk]},
    )
    assert Transfer.objects.get(pk=withdrawal.pk).status == TransferStatus.FAILED
