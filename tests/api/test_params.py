"""Where parameters come from: JSON body, form body, query string (which wins),
in camelCase or snake_case. Shown on real endpoints through networkId, which every
endpoint reads, and page/per_page on GET /tokens."""

import pytest

from exchange.api.params import canonical_name
from tests.factories import FeeScheduleFactory, NetworkFactory

pytestmark = pytest.mark.django_db

MAKER_FEE_ON_LOCAL = "0.00100000"
MAKER_FEE_ON_OTHER = "0.00300000"


@pytest.fixture
def two_networks(network, fees):
    other = NetworkFactory(id=5, name="Other")
    FeeScheduleFactory(network=other, maker_fee="0.003", taker_fee="0.004")
    return network, other


def _maker_fee(response) -> str:
    assert response.status_code == 200, response.content
    return response.json()["makerFee"]


def test_a_json_body_parameter_is_read(api, two_networks):
    response = api.post("/get_fee_info", {"networkId": 5}, format="json")
    assert _maker_fee(response) == MAKER_FEE_ON_OTHER


def test_a_form_encoded_body_parameter_is_read(api, two_networks):
    response = api.post(
        "/get_fee_info", "networkId=5", content_type="application/x-www-form-urlencoded"
    )
    assert _maker_fee(response) == MAKER_FEE_ON_OTHER


def test_a_query_string_parameter_is_read_on_a_post(api, two_networks):
    assert _maker_fee(api.post("/get_fee_info?networkId=5")) == MAKER_FEE_ON_OTHER


def test_the_query_string_wins_over_a_json_body(api, two_networks):
    response = api.post("/get_fee_info?networkId=5", {"networkId": 31337}, format="json")
    assert _maker_fee(response) == MAKER_FEE_ON_OTHER
    response = api.post("/get_fee_info?networkId=31337", {"networkId": 5}, format="json")
    assert _maker_fee(response) == MAKER_FEE_ON_LOCAL


def test_the_query_string_wins_over_a_form_body(api, two_networks):
    response = api.post(
        "/get_fee_info?networkId=5",
        "networkId=31337",
        content_type="application/x-www-form-urlencoded",
    )
    assert _maker_fee(response) == MAKER_FEE_ON_OTHER


def test_a_bad_body_value_is_ignored_when_the_query_string_overrides_it(api, two_networks):
    response = api.post("/get_fee_info?networkId=5", {"networkId": "bogus"}, format="json")
    assert _maker_fee(response) == MAKER_FEE_ON_OTHER


def test_a_bad_query_value_is_not_rescued_by_a_good_body_value(api, two_networks):
    response = api.post("/get_fee_info?networkId=42", {"networkId": 5}, format="json")
    assert response.status_code == 400
    assert response.json()["validationErrors"][0]["field"] == "networkId"


def test_the_snake_case_form_means_the_same_parameter(api, two_networks):
    assert _maker_fee(api.post("/get_fee_info?network_id=5")) == MAKER_FEE_ON_OTHER
    response = api.post("/get_fee_info", {"network_id": 5}, format="json")
    assert _maker_fee(response) == MAKER_FEE_ON_OTHER
    response = api.post(
        "/get_fee_info", "network_id=5", content_type="application/x-www-form-urlencoded"
    )
    assert _maker_fee(response) == MAKER_FEE_ON_OTHER


def test_a_query_string_in_snake_case_wins_over_a_body_in_camel_case(api, two_networks):
    response = api.post("/get_fee_info?network_id=5", {"networkId": 31337}, format="json")
    assert _maker_fee(response) == MAKER_FEE_ON_OTHER


def test_a_repeated_query_parameter_takes_its_last_value(api, two_networks):
    assert _maker_fee(api.post("/get_fee_info?networkId=31337&networkId=5")) == MAKER_FEE_ON_OTHER


def test_a_repeated_form_field_takes_its_last_value(api, two_networks):
    response = api.post(
        "/get_fee_info",
        "networkId=31337&networkId=5",
        content_type="application/x-www-form-urlencoded",
    )
    assert _maker_fee(response) == MAKER_FEE_ON_OTHER


def test_pagination_names_in_either_case_on_get_tokens(api, network, ether, token):
    for params in ({"per_page": 1, "page": 2}, {"perPage": 1, "page": 2}):
        body = api.get("/tokens", params).json()
        assert (body["page"], body["per_page"], body["records"][0]["symbol"]) == (2, 1, "TST")


def test_unknown_parameters_are_ignored(api, two_networks):
    response = api.post("/get_fee_info", {"networkId": 5, "whatever": [1]}, format="json")
    assert _maker_fee(response) == MAKER_FEE_ON_OTHER


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("giveTokenAddress", "giveTokenAddress"),
        ("give_token_address", "giveTokenAddress"),
        ("network_id", "networkId"),
        ("networkId", "networkId"),
        ("per_page", "per_page"),
        ("perPage", "per_page"),
        ("created_at", "created_at"),
        ("page", "page"),
    ],
)
def test_canonical_names_are_the_specs_spelling(name, canonical):
    assert canonical_name(name) == canonical
