import pytest
from django.utils import timezone

from tests.factories import FeeScheduleFactory, NetworkFactory, TokenFactory

pytestmark = pytest.mark.django_db

# The token's rules, beside the spec's fields (issue #16): none set.
RULES = {"withdrawalFee": "0", "withdrawalMinimum": "0", "amountPrecision": None}


def test_tokens_lists_the_networks_listed_tokens(api, ether, token):
    response = api.get("/tokens", {"networkId": 31337})
    assert response.status_code == 200
    assert response.json() == {
        "total": 2,
        "page": 1,
        "per_page": 100,
        "records": [
            {"decimals": "18", "address": ether.address, "name": "Ether", "symbol": "ETH", **RULES},
            {
                "decimals": "18",
                "address": token.address,
                "name": "Test Token",
                "symbol": "TST",
                **RULES,
            },
        ],
    }


def test_tokens_leaves_out_unlisted_tokens_and_other_networks(api, network, ether):
    TokenFactory(network=network, symbol="OFF", listed=False)
    TokenFactory(network=NetworkFactory(id=5), symbol="FAR")
    body = api.get("/tokens").json()
    assert body["total"] == 1
    assert [record["symbol"] for record in body["records"]] == ["ETH"]


def test_tokens_serves_addresses_lower_case_and_decimals_as_strings(api, network):
    TokenFactory(network=network, symbol="MIX", address="0x" + "AbCd" * 10, decimals=6)
    [record] = api.get("/tokens").json()["records"]
    assert record == {
        "decimals": "6",
        "address": "0x" + "abcd" * 10,
        "name": "Token MIX",
        "symbol": "MIX",
        **RULES,
    }


def test_contract_address_is_the_networks_exchange_contract(api, network):
    response = api.get("/helpers/return_contract_address")
    assert response.status_code == 200
    assert response.json() == {"address": "0x" + "ab" * 20}


def test_fee_info_is_the_schedule_in_force(api, network, fees):
    response = api.post("/get_fee_info")
    assert response.status_code == 200
    assert response.json() == {"makerFee": "0.00100000", "takerFee": "0.00200000"}


def test_fee_info_uses_the_latest_schedule_that_has_taken_effect(api, network, fees):
    now = timezone.now()
    FeeScheduleFactory(network=network, maker_fee="0.0005", taker_fee="0.0015", effective_at=now)
    FeeScheduleFactory(
        network=network,
        maker_fee="0.09",
        taker_fee="0.09",
        effective_at=now + timezone.timedelta(days=1),
    )
    assert api.post("/get_fee_info").json() == {"makerFee": "0.00050000", "takerFee": "0.00150000"}


def test_fee_info_without_any_schedule_in_force_is_zero(api, network):
    FeeScheduleFactory(network=network, effective_at=timezone.now() + timezone.timedelta(hours=1))
    assert api.post("/get_fee_info").json() == {"makerFee": "0.00000000", "takerFee": "0.00000000"}


def test_fee_info_ignores_other_networks_schedules(api, network, fees):
    FeeScheduleFactory(network=NetworkFactory(id=5), maker_fee="0.05", taker_fee="0.05")
    assert api.post("/get_fee_info").json()["makerFee"] == "0.00100000"
