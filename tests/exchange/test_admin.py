"""The operator admin for reference data, through Django's test client as a superuser."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from exchange.models import FeeSchedule, Market, MarketStatus, Network, Token
from exchange.validators import ETHER_ADDRESS
from tests.factories import FeeScheduleFactory, MarketFactory, NetworkFactory, TokenFactory

pytestmark = pytest.mark.django_db

ADDRESS = "0x" + "12" * 20


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The operator login's password hash is not under test; PBKDF2 costs a second a test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _url(model, view: str, *args) -> str:
    return reverse(f"admin:exchange_{model._meta.model_name}_{view}", args=args)


def _form_errors(response) -> dict[str, list[str]]:
    assert response.status_code == 200, "the form was expected to be shown again with errors"
    return {
        field: list(errors) for field, errors in response.context["adminform"].form.errors.items()
    }


def _when(moment) -> dict[str, str]:
    return {"effective_at_0": f"{moment:%Y-%m-%d}", "effective_at_1": f"{moment:%H:%M:%S}"}


def _network_form(**overrides) -> dict:
    data = {
        "id": "5",
        "name": "Goerli",
        "rpc_url": "http://127.0.0.1:8545",
        "exchange_address": "",
        "confirmations": "12",
        "enabled": "on",
        "order_submission_enabled": "on",
    }
    return {key: value for key, value in {**data, **overrides}.items() if value is not None}


def _token_form(network, **overrides) -> dict:
    data = {
        "network": str(network.pk),
        "address": ADDRESS,
        "symbol": "DAI",
        "name": "Dai",
        "decimals": "18",
        "listed": "on",
        "withdrawal_fee": "0",
        "withdrawal_minimum": "0",
        "trade_gas_fee": "0",
    }
    return {**data, **overrides}


def _fee_form(network, moment, **overrides) -> dict:
    data = {"network": str(network.pk), "maker_fee": "0.001", "taker_fee": "0.002", **_when(moment)}
    return {**data, **overrides}


# Every page renders


@pytest.fixture
def reference_data(network, ether, token, market, fees):
    return {Network: network, Token: token, Market: market, FeeSchedule: fees}


@pytest.mark.parametrize("model", [Network, Token, Market, FeeSchedule])
@pytest.mark.parametrize("view", ["changelist", "add", "change"])
def test_every_reference_admin_page_renders(admin_client, reference_data, model, view):
    args = (reference_data[model].pk,) if view == "change" else ()
    response = admin_client.get(_url(model, view, *args))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("model", "query", "count"),
    [
        (Network, {"q": "Local"}, 1),
        (Network, {"q": "31337"}, 1),
        (Network, {"q": "no such network"}, 0),
        (Network, {"enabled__exact": "1", "order_submission_enabled__exact": "0"}, 0),
        (Token, {"q": "TST"}, 1),
        (Token, {"network__id__exact": "31337", "listed__exact": "1"}, 2),
        (Market, {"q": "ETH"}, 1),
        (Market, {"status__exact": "HALTED"}, 0),
        (FeeSchedule, {"network__id__exact": "31337"}, 1),
    ],
)
def test_changelist_search_and_filters_work(admin_client, reference_data, model, query, count):
    response = admin_client.get(_url(model, "changelist"), query)
    assert response.status_code == 200
    assert response.context["cl"].result_count == count


def test_token_changelist_finds_by_symbol(admin_client, reference_data):
    TokenFactory(network=reference_data[Network], symbol="ZZZ", name="Sleepy")
    response = admin_client.get(_url(Token, "changelist"), {"q": "zzz"})
    assert list(response.context["cl"].result_list) == [Token.objects.get(symbol="ZZZ")]


def test_the_admin_is_closed_to_anonymous_visitors(client, reference_data):
    response = client.get(_url(Network, "changelist"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


# Networks


def test_an_operator_adds_a_network(admin_client):
    response = admin_client.post(
        _url(Network, "add"), _network_form(exchange_address="0x" + "AB" * 20)
    )
    assert response.status_code == 302
    network = Network.objects.get(pk=5)
    assert network.name == "Goerli"
    assert network.exchange_address == "0x" + "ab" * 20


@pytest.mark.parametrize("address", ["0x123", "12" * 21, "0x" + "zz" * 20])
def test_a_network_with_a_bad_contract_address_is_refused(admin_client, address):
    errors = _form_errors(
        admin_client.post(_url(Network, "add"), _network_form(exchange_address=address))
    )
    assert any("is not an Ethereum address" in message for message in errors["exchange_address"])
    assert not Network.objects.filter(pk=5).exists()


def test_a_networks_id_cannot_change(admin_client, network):
    response = admin_client.post(
        _url(Network, "change", network.pk),
        _network_form(id="99", name="Renamed", exchange_address=network.exchange_address),
    )
    assert response.status_code == 302
    assert not Network.objects.filter(pk=99).exists()
    assert Network.objects.get(pk=31337).name == "Renamed"


def test_order_submission_is_switched_off_with_an_action(admin_client, network):
    response = admin_client.post(
        _url(Network, "changelist"),
        {"action": "disable_order_submission", "_selected_action": [network.pk]},
        follow=True,
    )
    assert "Order submission disabled on 1 network(s)." in response.content.decode()
    network.refresh_from_db()
    assert network.order_submission_enabled is False


# Tokens


def test_an_operator_adds_a_token_with_its_address_lower_cased(admin_client, network):
    response = admin_client.post(_url(Token, "add"), _token_form(network, address="0x" + "AB" * 20))
    assert response.status_code == 302
    assert Token.objects.get(symbol="DAI").address == "0x" + "ab" * 20


@pytest.mark.parametrize("address", ["0x12", "not an address", "0x" + "g1" * 20])
def test_a_token_with_a_bad_address_is_refused_with_a_clear_message(admin_client, network, address):
    response = admin_client.post(_url(Token, "add"), _token_form(network, address=address))
    errors = _form_errors(response)
    assert any(
        "is not an Ethereum address (0x followed by 40 hex digits)." in message
        for message in errors["address"]
    )
    assert "is not an Ethereum address" in response.content.decode()
    assert not Token.objects.filter(symbol="DAI").exists()


def test_a_token_address_already_listed_on_the_network_is_refused(admin_client, network, ether):
    errors = _form_errors(
        admin_client.post(
            _url(Token, "add"),
            _token_form(network, address=ETHER_ADDRESS.upper().replace("0X", "0x")),
        )
    )
    assert errors["__all__"] == ["Token with this Network and Address already exists."]


def test_a_symbol_with_an_underscore_is_refused(admin_client, network):
    errors = _form_errors(admin_client.post(_url(Token, "add"), _token_form(network, symbol="A_B")))
    assert errors["symbol"] == ["A symbol cannot contain '_': market names are BASE_QUOTE."]


def test_a_tokens_contract_and_precision_cannot_change(admin_client, token):
    data = _token_form(token.network, address="0x" + "99" * 20, decimals="6", name="Renamed")
    response = admin_client.post(_url(Token, "change", token.pk), data)
    assert response.status_code == 302
    token.refresh_from_db()
    assert (token.name, token.decimals, token.address) == ("Renamed", 18, token.address)
    assert token.address != "0x" + "99" * 20


# Markets


def test_an_operator_adds_a_market(admin_client, network, ether, token):
    response = admin_client.post(
        _url(Market, "add"),
        {"network": network.pk, "base": ether.pk, "quote": token.pk, "status": "TRADING"},
    )
    assert response.status_code == 302
    assert Market.objects.get().name == "ETH_TST"


def test_a_market_with_the_same_token_twice_is_refused(admin_client, network, ether):
    response = admin_client.post(
        _url(Market, "add"),
        {"network": network.pk, "base": ether.pk, "quote": ether.pk, "status": "TRADING"},
    )
    errors = _form_errors(response)
    assert errors == {"quote": ["Base and quote must be different tokens."]}
    assert not Market.objects.exists()


def test_a_market_with_a_token_of_another_network_is_refused(admin_client, network, ether):
    foreign = TokenFactory(network=NetworkFactory(id=5), symbol="FAR")
    response = admin_client.post(
        _url(Market, "add"),
        {"network": network.pk, "base": ether.pk, "quote": foreign.pk, "status": "TRADING"},
    )
    assert _form_errors(response) == {"quote": ["The token belongs to another network."]}
    assert not Market.objects.exists()


def test_a_market_that_exists_is_refused(admin_client, market):
    response = admin_client.post(
        _url(Market, "add"),
        {
            "network": market.network_id,
            "base": market.base_id,
            "quote": market.quote_id,
            "status": "TRADING",
        },
    )
    assert _form_errors(response) == {
        "__all__": ["Market with this Network, Base and Quote already exists."]
    }


def test_a_markets_pair_cannot_change_but_its_status_can(admin_client, market, network):
    other = TokenFactory(network=network, symbol="OTH")
    response = admin_client.post(
        _url(Market, "change", market.pk),
        {"network": network.pk, "base": other.pk, "quote": market.quote_id, "status": "HALTED"},
    )
    assert response.status_code == 302
    market.refresh_from_db()
    assert (market.base.symbol, market.status) == ("ETH", MarketStatus.HALTED)


def test_markets_are_halted_with_an_action(admin_client, market):
    admin_client.post(
        _url(Market, "changelist"), {"action": "set_halted", "_selected_action": [market.pk]}
    )
    market.refresh_from_db()
    assert market.status == MarketStatus.HALTED


# Fee schedules


def test_an_operator_schedules_new_fees(admin_client, network):
    start = timezone.now().replace(microsecond=0) + timezone.timedelta(days=2)
    response = admin_client.post(_url(FeeSchedule, "add"), _fee_form(network, start), follow=True)
    assert response.status_code == 200
    schedule = FeeSchedule.objects.get()
    assert (schedule.maker_fee, schedule.taker_fee) == (Decimal("0.001"), Decimal("0.002"))
    assert schedule.effective_at == start
    assert "The schedule takes effect at" in response.content.decode()


def test_a_schedule_starting_now_as_the_form_proposes_is_accepted(admin_client, network):
    proposed = timezone.now() - timezone.timedelta(minutes=2)
    response = admin_client.post(_url(FeeSchedule, "add"), _fee_form(network, proposed))
    assert response.status_code == 302
    schedule = FeeSchedule.objects.get()
    assert schedule.has_taken_effect
    assert schedule.effective_at > proposed
    assert FeeSchedule.objects.in_force(network) == schedule


def test_a_schedule_starting_in_the_past_is_refused(admin_client, network):
    yesterday = timezone.now() - timezone.timedelta(days=1)
    errors = _form_errors(
        admin_client.post(_url(FeeSchedule, "add"), _fee_form(network, yesterday))
    )
    assert errors["effective_at"][0].startswith("A fee schedule cannot start in the past")
    assert not FeeSchedule.objects.exists()


@pytest.mark.parametrize(("field", "value"), [("maker_fee", "0.1000001"), ("taker_fee", "0.5")])
def test_a_fee_above_ten_percent_is_refused(admin_client, network, field, value):
    start = timezone.now() + timezone.timedelta(days=1)
    response = admin_client.post(
        _url(FeeSchedule, "add"), _fee_form(network, start, **{field: value})
    )
    assert _form_errors(response) == {field: ["Ensure this value is less than or equal to 0.1."]}
    assert not FeeSchedule.objects.exists()


def test_a_fee_of_exactly_ten_percent_is_accepted(admin_client, network):
    start = timezone.now() + timezone.timedelta(days=1)
    response = admin_client.post(
        _url(FeeSchedule, "add"), _fee_form(network, start, taker_fee="0.1")
    )
    assert response.status_code == 302


def test_a_negative_fee_is_refused(admin_client, network):
    start = timezone.now() + timezone.timedelta(days=1)
    response = admin_client.post(
        _url(FeeSchedule, "add"), _fee_form(network, start, maker_fee="-0.001")
    )
    assert _form_errors(response) == {
        "maker_fee": ["Ensure this value is greater than or equal to 0."]
    }


def test_a_schedule_that_has_taken_effect_cannot_be_edited(admin_client, fees):
    page = admin_client.get(_url(FeeSchedule, "change", fees.pk))
    assert set(page.context["adminform"].form.fields) == set()
    tomorrow = timezone.now() + timezone.timedelta(days=1)
    response = admin_client.post(
        _url(FeeSchedule, "change", fees.pk),
        _fee_form(fees.network, tomorrow, maker_fee="0.05", taker_fee="0.05"),
    )
    assert response.status_code == 302
    stored = FeeSchedule.objects.get(pk=fees.pk)
    assert (stored.maker_fee, stored.taker_fee, stored.effective_at) == (
        fees.maker_fee,
        fees.taker_fee,
        fees.effective_at,
    )


def test_a_schedule_that_has_taken_effect_cannot_be_deleted(admin_client, fees):
    assert admin_client.get(_url(FeeSchedule, "delete", fees.pk)).status_code == 403
    assert (
        admin_client.post(_url(FeeSchedule, "delete", fees.pk), {"post": "yes"}).status_code == 403
    )
    changelist = admin_client.get(_url(FeeSchedule, "changelist"))
    assert "delete_selected" not in changelist.content.decode()
    response = admin_client.post(
        _url(FeeSchedule, "changelist"),
        {"action": "delete_selected", "_selected_action": [fees.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302)
    assert FeeSchedule.objects.filter(pk=fees.pk).exists()


def test_a_future_schedule_can_be_edited_and_deleted(admin_client, network):
    start = timezone.now().replace(microsecond=0) + timezone.timedelta(days=3)
    future = FeeScheduleFactory(network=network, effective_at=start)
    response = admin_client.post(
        _url(FeeSchedule, "change", future.pk), _fee_form(network, start, maker_fee="0.004")
    )
    assert response.status_code == 302
    assert FeeSchedule.objects.get(pk=future.pk).maker_fee == Decimal("0.004")
    response = admin_client.post(_url(FeeSchedule, "delete", future.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not FeeSchedule.objects.filter(pk=future.pk).exists()


def test_a_future_schedule_cannot_be_moved_into_the_past(admin_client, network):
    start = timezone.now() + timezone.timedelta(days=3)
    future = FeeScheduleFactory(network=network, effective_at=start)
    last_week = timezone.now() - timezone.timedelta(days=7)
    response = admin_client.post(
        _url(FeeSchedule, "change", future.pk), _fee_form(network, last_week)
    )
    assert "effective_at" in _form_errors(response)
    assert FeeSchedule.objects.get(pk=future.pk).effective_at == start


def test_the_fee_schedule_list_marks_the_one_in_force(admin_client, network, fees):
    older = FeeScheduleFactory(
        network=network, effective_at=fees.effective_at - timezone.timedelta(days=1)
    )
    response = admin_client.get(_url(FeeSchedule, "changelist"))
    model_admin = response.context["cl"].model_admin
    assert model_admin.in_force(fees) is True
    assert model_admin.in_force(older) is False


def test_market_factory_is_consistent(market):
    # Guards the fixtures the admin tests rely on.
    assert market.base.network_id == market.quote.network_id == market.network_id
    assert MarketFactory._meta.model is Market


def test_tokens_are_unlisted_from_the_changelist(admin_client, ether, token):
    response = admin_client.post(
        _url(Token, "changelist"),
        {
            "form-TOTAL_FORMS": "2",
            "form-INITIAL_FORMS": "2",
            "form-MIN_NUM_FORMS": "0",
            "form-MAX_NUM_FORMS": "1000",
            "form-0-id": str(ether.pk),
            "form-0-listed": "on",
            "form-1-id": str(token.pk),
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    assert list(Token.objects.filter(listed=True)) == [ether]
