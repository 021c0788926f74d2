"""API keys: issued in the admin (shown once, stored hashed), scoped to security
types, refused when unknown or revoked."""

import hashlib

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from exchange.api.security import SECURITY_TYPES, security_type_of
from exchange.models import ApiKey, SecurityType
from exchange.services.api_keys import api_key_issue, api_key_revoke

pytestmark = pytest.mark.django_db

TRADE_PATHS = ["create-orders", "delete-orders", "create-trades", "create-transfers"]
USER_DATA_PATHS = ["get-orders", "get-trades", "get-transfers", "balances"]


@pytest.fixture
def stand_ins(settings):
    settings.ROOT_URLCONF = "tests.urls_for_security"


@pytest.fixture
def operator_client() -> APIClient:
    operator = get_user_model().objects.create_superuser("op", "op@example.com", "pw")
    client = APIClient()
    client.force_login(operator)
    return client


def test_the_security_types_follow_the_spec():
    assert {name for name, kind in SECURITY_TYPES.items() if kind == SecurityType.TRADE} == set(
        TRADE_PATHS
    )
    for name in [*USER_DATA_PATHS, "accounts", "account-balances"]:
        assert security_type_of(name) == SecurityType.USER_DATA
    for public in ("tokens", "fee-info", "contract-address", "orderbook", None):
        assert security_type_of(public) is None


@pytest.mark.parametrize("name", TRADE_PATHS)
def test_a_user_data_only_key_is_refused_on_trade_endpoints(api, network, stand_ins, name):
    _, raw_key = api_key_issue(name="reader", allow_trade=False)
    response = api.post(f"/stand-in/{name}", HTTP_X_API_KEY=raw_key)
    assert response.status_code == 403
    assert response.json() == {"code": 403, "reason": "This API key does not allow TRADE endpoints"}
    assert "X-RateLimit-Limit" in response.headers


@pytest.mark.parametrize("name", USER_DATA_PATHS)
def test_a_trade_only_key_is_refused_on_user_data_endpoints(api, network, stand_ins, name):
    _, raw_key = api_key_issue(name="bot", allow_user_data=False)
    response = api.post(f"/stand-in/{name}", HTTP_X_API_KEY=raw_key)
    assert response.status_code == 403
    assert response.json()["reason"] == "This API key does not allow USER_DATA endpoints"


def test_the_account_path_is_user_data(api, network, stand_ins):
    _, raw_key = api_key_issue(name="bot", allow_user_data=False)
    response = api.get("/stand-in/accounts/0x" + "ab" * 20, HTTP_X_API_KEY=raw_key)
    assert response.status_code == 403


def test_a_key_is_served_on_the_types_it_allows(api, network, stand_ins):
    _, trade_key = api_key_issue(name="bot", allow_user_data=False)
    _, reader_key = api_key_issue(name="reader", allow_trade=False)
    assert api.post("/stand-in/create-orders", HTTP_X_API_KEY=trade_key).status_code == 200
    assert api.post("/stand-in/get-orders", HTTP_X_API_KEY=reader_key).status_code == 200


def test_secured_endpoints_still_serve_requests_without_a_key(api, network, stand_ins):
    # Keys are optional: signatures are the authority over an account, not keys.
    assert api.post("/stand-in/create-orders").status_code == 200


def test_any_valid_key_is_served_on_public_endpoints(api, network):
    _, raw_key = api_key_issue(name="nothing", allow_trade=False, allow_user_data=False)
    assert api.get("/tokens", HTTP_X_API_KEY=raw_key).status_code == 200


def test_an_unknown_key_is_a_401(api, network):
    response = api.get("/tokens", HTTP_X_API_KEY="not-a-key")
    assert response.status_code == 401
    assert response.json() == {"code": 401, "reason": "Unknown or revoked API key"}
    assert "X-RateLimit-Remaining" in response.headers


def test_a_revoked_key_is_a_401(api, network):
    api_key, raw_key = api_key_issue(name="gone")
    assert api.get("/tokens", HTTP_X_API_KEY=raw_key).status_code == 200
    api_key_revoke(api_key=api_key)
    assert api.get("/tokens", HTTP_X_API_KEY=raw_key).status_code == 401


def test_only_the_hash_of_a_key_is_stored():
    api_key, raw_key = api_key_issue(name="mm")
    assert api_key.key_hash == hashlib.sha256(raw_key.encode()).hexdigest()
    stored = ApiKey.objects.filter(pk=api_key.pk).values().get()
    assert raw_key not in {str(value) for value in stored.values()}
    assert len(raw_key) >= 43  # 256 random bits


def test_an_operator_issues_a_key_in_the_admin_and_sees_it_once(api, network, operator_client):
    response = operator_client.post(
        "/admin/exchange/apikey/add/",
        {"name": "Market maker", "allow_trade": "on", "rate_limit_multiplier": "2"},
        follow=True,
    )
    assert response.status_code == 200
    api_key = ApiKey.objects.get(name="Market maker")
    assert (api_key.allow_trade, api_key.allow_user_data) == (True, False)
    shown = [str(message) for message in response.context["messages"]]
    raw_key = next(text.split(" is ")[1].split(" ")[0] for text in shown if "API key" in text)
    assert hashlib.sha256(raw_key.encode()).hexdigest() == api_key.key_hash
    assert api.get("/tokens", HTTP_X_API_KEY=raw_key).status_code == 200
    page = operator_client.get(f"/admin/exchange/apikey/{api_key.pk}/change/")
    assert raw_key.encode() not in page.content


def test_an_operator_revokes_a_key_in_the_admin(api, network, operator_client):
    api_key, raw_key = api_key_issue(name="leaked")
    operator_client.post(
        "/admin/exchange/apikey/", {"action": "revoke", "_selected_action": [api_key.pk]}
    )
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert api.get("/tokens", HTTP_X_API_KEY=raw_key).status_code == 401


def test_a_scope_changed_in_the_admin_applies_at_once(api, network, stand_ins, operator_client):
    api_key, raw_key = api_key_issue(name="bot")
    assert api.post("/stand-in/create-orders", HTTP_X_API_KEY=raw_key).status_code == 200
    response = operator_client.post(
        f"/admin/exchange/apikey/{api_key.pk}/change/",
        {"name": "bot", "allow_user_data": "on", "rate_limit_multiplier": "1"},
    )
    assert response.status_code == 302
    assert api.post("/stand-in/create-orders", HTTP_X_API_KEY=raw_key).status_code == 403
