"""The one error renderer, on real endpoints: every error is the spec's JSON body."""

import pytest
from django.core.exceptions import PermissionDenied
from rest_framework.test import APIClient

from exchange.api.views import reference

pytestmark = pytest.mark.django_db


def _assert_json_error(response, status: int, code: int) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["reason"], str) and body["reason"]
    assert "Traceback" not in response.content.decode()
    assert "<html" not in response.content.decode().lower()
    return body


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


# Validation (100)


def test_a_validation_error_lists_each_field_with_its_code(api, network):
    response = api.get("/tokens", {"page": "x", "per_page": 0})
    body = _assert_json_error(response, 400, 100)
    assert body["reason"] == "Validation failed"
    assert body["validationErrors"] == [
        {"field": "page", "code": 1001, "reason": "page must be an integer"},
        {
            "field": "per_page",
            "code": 1004,
            "reason": "Ensure this value is greater than or equal to 1.",
        },
    ]


def test_a_json_array_where_an_object_is_expected_is_a_400(api, network):
    response = api.post("/get_fee_info", [1, 2], format="json")
    _assert_json_error(response, 400, 100)


@pytest.mark.parametrize("body", ["42", '"text"', "null"])
def test_a_json_scalar_where_an_object_is_expected_is_a_400(api, network, body):
    response = api.post("/get_fee_info", body, content_type="application/json")
    _assert_json_error(response, 400, 100)


# Malformed JSON (101)


@pytest.mark.parametrize(
    "raw",
    [
        b"{bad",
        b'{"networkId": 31337',
        b'{"networkId": NaN}',
        b"\xff\xfe not utf-8",
        b"[" * 100_000,
    ],
    ids=["syntax", "truncated", "nan", "not-utf8", "nested-too-deep"],
)
def test_malformed_json_is_a_400_with_code_101(api, network, debug, raw):
    response = api.generic("POST", "/get_fee_info", raw, content_type="application/json")
    body = _assert_json_error(response, 400, 101)
    assert body["reason"].startswith("Malformed JSON")


def test_an_empty_json_body_is_an_empty_object(api, network, fees):
    response = api.generic("POST", "/get_fee_info", b"", content_type="application/json")
    assert response.status_code == 200


def test_an_unsupported_content_type_is_a_json_415(api, network):
    response = api.generic("POST", "/get_fee_info", b"networkId 1", content_type="text/plain")
    _assert_json_error(response, 415, 415)


# Unknown route (404)


# `/` is the landing page (tests/test_landing.py).
@pytest.mark.parametrize("path", ["/nope", "/tokens/", "/orders/extra/path"])
def test_an_unknown_route_is_a_json_404(api, debug, path):
    body = _assert_json_error(api.get(path), 404, 404)
    assert body["reason"] == f"No endpoint GET {path}"


def test_an_unknown_route_is_a_json_404_for_any_method(api, debug):
    _assert_json_error(api.post("/nope", {"a": 1}, format="json"), 404, 404)


def test_a_resource_the_network_lacks_is_a_json_404(api, network):
    network.exchange_address = ""
    network.save()
    body = _assert_json_error(api.get("/helpers/return_contract_address"), 404, 404)
    assert body["reason"] == "No exchange contract is deployed on network 31337"


# Wrong method (405)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("post", "/tokens", "GET"),
        ("delete", "/tokens", "GET"),
        ("get", "/get_fee_info", "POST"),
        ("put", "/helpers/return_contract_address", "GET"),
    ],
)
def test_a_wrong_method_is_a_json_405_with_allow(api, network, debug, method, path, allowed):
    response = getattr(api, method)(path)
    body = _assert_json_error(response, 405, 405)
    assert method.upper() in body["reason"]
    assert allowed in response["Allow"]


def test_the_method_is_checked_before_the_body_is_parsed(api, network):
    response = api.generic("PATCH", "/tokens", b"{bad", content_type="application/json")
    _assert_json_error(response, 405, 405)


# Unexpected exception (500)


def test_an_unexpected_exception_is_a_json_500_without_a_trace(api, network, debug, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("secret detail from deep inside")

    monkeypatch.setattr(reference, "token_list", explode)
    response = api.get("/tokens")
    body = _assert_json_error(response, 500, 500)
    assert body == {"code": 500, "reason": "Internal server error"}
    assert "secret detail" not in response.content.decode()
    assert "reference.py" not in response.content.decode()


def test_an_unexpected_exception_in_a_post_is_a_json_500(api, network, monkeypatch):
    def explode(**kwargs):
        raise ZeroDivisionError

    monkeypatch.setattr(reference, "fee_info_get", explode)
    response = api.post("/get_fee_info", {}, format="json")
    assert _assert_json_error(response, 500, 500) == {
        "code": 500,
        "reason": "Internal server error",
    }


# Requests Django itself refuses before any view runs


def test_a_request_for_a_host_not_allowed_is_a_json_400(api, debug, settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    _assert_json_error(api.get("/tokens", HTTP_HOST="evil.example"), 400, 400)


def test_too_many_query_parameters_is_a_json_400_not_a_500(api, network, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    query = "&".join(f"p{index}=1" for index in range(20))
    _assert_json_error(api.get(f"/tokens?{query}"), 400, 400)


def test_a_body_over_the_upload_limit_is_a_json_error_not_a_500(api, network, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    body = '{"networkId": 31337, "pad": "' + "x" * 500 + '"}'
    response = api.post("/get_fee_info", body, content_type="application/json")
    assert 400 <= response.status_code < 500
    _assert_json_error(response, response.status_code, response.status_code)


def test_the_admin_keeps_its_html_error_pages(client, debug):
    response = client.get("/admin/nope/")
    assert response.status_code in (302, 404)
    assert not response.get("Content-Type", "").startswith("application/json")


def test_an_exception_outside_the_api_views_handler_is_still_a_json_500(
    debug, network, monkeypatch
):
    # Raised before DRF's own handling: Django renders its error page (the technical
    # page with DEBUG on), which the middleware replaces with the spec's body.
    def explode(self, request, *args, **kwargs):
        raise RuntimeError("secret detail from deep inside")

    monkeypatch.setattr(reference.TokenListView, "dispatch", explode)
    response = APIClient(raise_request_exception=False).get("/tokens")
    body = _assert_json_error(response, 500, 500)
    assert body == {"code": 500, "reason": "Internal server error"}
    assert "secret detail" not in response.content.decode()


def test_a_permission_refusal_inside_a_view_is_a_json_403(api, network, monkeypatch):
    def refuse(**kwargs):
        raise PermissionDenied("Not for you")

    monkeypatch.setattr(reference, "fee_info_get", refuse)
    body = _assert_json_error(api.post("/get_fee_info"), 403, 403)
    assert body["reason"] == "Not for you"
