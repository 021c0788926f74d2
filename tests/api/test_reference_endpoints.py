import pytest

pytestmark = pytest.mark.django_db


def test_tokens_lists_the_networks_listed_tokens(api, ether, token):
    response = api.get("/tokens", {"networkId": 31337})
    assert response.status_code == 200
    assert response.json() == {
        "total": 2,
        "page": 1,
        "per_page": 100,
        "records": [
            {"decimals": "18", "address": ether.address, "name": "Ether", "symbol": "ETH"},
            {"decimals": "18", "address": token.address, "name": "Test Token", "symbol": "TST"},
        ],
    }
