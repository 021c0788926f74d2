"""networkId on real endpoints: the configured default, unknown, disabled, malformed."""

import pytest

from tests.factories import FeeScheduleFactory, NetworkFactory, TokenFactory

pytestmark = pytest.mark.django_db


def _network_error(response) -> dict:
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 100
    assert body["reason"] == "Validation failed"
    [error] = body["validationErrors"]
    assert error["field"] == "networkId"
    return error


@pytest.fixture
def other_network():
    network = NetworkFactory(id=5, name="Other", exchange_address="0x" + "cd" * 20)
    TokenFactory(network=network, symbol="OTH")
    FeeScheduleFactory(network=network, maker_fee="0.003", taker_fee="0.004")
    return network


def test_without_networkid_the_configured_default_is_used(api, network, token, other_network):
    response = api.get("/tokens")
    assert [record["symbol"] for record in response.json()["records"]] == ["TST"]


def test_the_default_follows_the_setting(api, network, token, other_network, settings):
    settings.DEFAULT_NETWORK_ID = other_network.id
    response = api.get("/tokens")
    assert [record["symbol"] for record in response.json()["records"]] == ["OTH"]


def test_the_spec_default_is_mainnet_and_a_400_when_mainnet_is_not_served(api, settings):
    settings.DEFAULT_NETWORK_ID = 1
    error = _network_error(api.get("/tokens"))
    assert error == {"field": "networkId", "code": 1006, "reason": "Network id 1 is not supported"}


def test_an_explicit_networkid_selects_that_network_on_every_endpoint(
    api, network, fees, token, other_network
):
    tokens = api.get("/tokens", {"networkId": 5}).json()
    assert [record["symbol"] for record in tokens["records"]] == ["OTH"]
    address = api.get("/helpers/return_contract_address", {"networkId": 5}).json()
    assert address == {"address": "0x" + "cd" * 20}
    fee_info = api.post("/get_fee_info", {"networkId": 5}, format="json").json()
    assert fee_info == {"makerFee": "0.00300000", "takerFee": "0.00400000"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/tokens"), ("get", "/helpers/return_contract_address"), ("post", "/get_fee_info")],
)
def test_an_unknown_network_is_a_400_with_code_1006(api, network, method, path):
    error = _network_error(getattr(api, method)(f"{path}?networkId=42"))
    assert error == {"field": "networkId", "code": 1006, "reason": "Network id 42 is not supported"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/tokens"), ("get", "/helpers/return_contract_address"), ("post", "/get_fee_info")],
)
def test_a_disabled_network_is_a_400_with_code_1006(api, network, method, path):
    network.enabled = False
    network.save()
    error = _network_error(getattr(api, method)(f"{path}?networkId=31337"))
    assert error["code"] == 1006


def test_a_disabled_default_network_is_a_400_too(api, network):
    network.enabled = False
    network.save()
    assert _network_error(api.get("/tokens"))["code"] == 1006


@pytest.mark.parametrize("value", ["0", "-1", str(2**63), str(10**40)])
def test_an_out_of_range_networkid_is_unsupported_not_a_500(api, network, value):
    assert _network_error(api.get("/tokens", {"networkId": value}))["code"] == 1006


@pytest.mark.parametrize("value", ["mainnet", "1.5", "0x1", ""])
def test_a_networkid_that_is_not_an_integer_is_a_format_error(api, network, value):
    error = _network_error(api.get("/tokens", {"networkId": value}))
    assert error["code"] == 1001


@pytest.mark.parametrize("value", [None, True, [31337], {"id": 31337}])
def test_a_json_networkid_of_the_wrong_type_is_a_format_error(api, network, fees, value):
    response = api.post("/get_fee_info", {"networkId": value}, format="json")
    assert _network_error(response)["code"] == 1001


def test_a_json_number_networkid_is_accepted(api, network, fees):
    response = api.post("/get_fee_info", {"networkId": 31337}, format="json")
    assert response.status_code == 200


def test_a_json_string_networkid_is_accepted(api, network, fees):
    response = api.post("/get_fee_info", {"networkId": "31337"}, format="json")
    assert response.status_code == 200
