"""GET /accounts/<address> and GET /balances?account=: total and held per token."""

import pytest

from tests.signing import address_of, new_signer, signed_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def holder(network, market, fund, api):
    signer = new_signer()
    fund(signer, market.base, 500)
    fund(signer, market.quote, 2**256 - 1)
    payload = signed_order(
        signer,
        contract=network.exchange_address,
        give_token=market.base,
        give_amount=300,
        take_token=market.quote,
        take_amount=600,
    )
    assert api.post("/create_orders", payload, format="json").status_code == 201
    return signer


def expected_records(market):
    return [
        {"token": market.base.address, "balance": "500", "holdBalance": "300"},
        {"token": market.quote.address, "balance": str(2**256 - 1), "holdBalance": "0"},
    ]


def test_accounts_lists_balances_and_holds(api, market, holder):
    response = api.get(f"/accounts/{holder.address}")  # checksummed in the path
    assert response.status_code == 200
    assert response.json() == {
        "total": 2,
        "page": 1,
        "per_page": 100,
        "records": expected_records(market),
    }
    assert 'rel="last"' in response["Link"]


def test_balances_takes_the_account_in_the_query_string(api, market, holder):
    response = api.get("/balances", {"account": address_of(holder)})
    assert response.status_code == 200
    assert response.json()["records"] == expected_records(market)


def test_balances_pages(api, market, holder):
    body = api.get("/balances", {"account": address_of(holder), "page": 2, "per_page": 1}).json()
    assert body == {"total": 2, "page": 2, "per_page": 1, "records": expected_records(market)[1:]}


def test_an_account_without_deposits_has_no_balances(api, network):
    body = api.get(f"/accounts/0x{'12' * 20}").json()
    assert body == {"total": 0, "page": 1, "per_page": 100, "records": []}


def test_a_malformed_account_is_a_400(api, network):
    for response in (api.get("/accounts/0x123"), api.get("/balances", {"account": "zz"})):
        assert response.status_code == 400
        assert response.json()["validationErrors"][0]["field"] == "account"
        assert response.json()["validationErrors"][0]["code"] == 1002


def test_balances_needs_an_account(api, network):
    response = api.get("/balances")
    assert response.json()["validationErrors"] == [
        {"field": "account", "code": 1000, "reason": "This field is required."}
    ]
