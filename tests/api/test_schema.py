"""The OpenAPI schema at /schema, the docs at /docs, and real responses against it."""

import pytest
from openapi_core import OpenAPI
from openapi_core.contrib.django import DjangoOpenAPIRequest, DjangoOpenAPIResponse
from openapi_core.exceptions import OpenAPIError
from openapi_spec_validator import validate

from exchange.models import CostClass, RateLimitPolicy
from exchange.selectors.access import rate_limits_forget

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api) -> dict:
    response = api.get("/schema", {"format": "json"})
    assert response.status_code == 200
    return response.json()


@pytest.fixture
def openapi(schema) -> OpenAPI:
    return OpenAPI.from_dict(schema)


def _check(openapi: OpenAPI, response) -> None:
    """Validates the response's status, headers and body against the operation."""
    openapi.validate_response(
        DjangoOpenAPIRequest(response.wsgi_request), DjangoOpenAPIResponse(response)
    )


def test_the_schema_is_valid_openapi_3(schema):
    validate(schema)
    assert schema["openapi"].startswith("3.")
    assert {"/tokens", "/get_fee_info", "/helpers/return_contract_address"} <= set(schema["paths"])


def test_the_schema_documents_the_rate_limit_headers_and_errors(schema):
    operation = schema["paths"]["/tokens"]["get"]
    for status in ("200", "400", "401", "403", "418", "429"):
        headers = operation["responses"][status]["headers"]
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(headers)
    error = operation["responses"]["429"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/Error"}


def test_the_docs_page_is_served_without_a_cdn(api):
    response = api.get("/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page and "/static/drf_spectacular_sidecar/" in page
    assert "cdn" not in page.lower()


def test_tokens_matches_the_schema(api, openapi, ether, token):
    _check(openapi, api.get("/tokens", {"networkId": 31337, "per_page": 1}))


def test_contract_address_and_its_404_match_the_schema(api, openapi, network):
    _check(openapi, api.get("/helpers/return_contract_address"))
    network.exchange_address = ""
    network.save()
    missing = api.get("/helpers/return_contract_address")
    assert missing.status_code == 404
    _check(openapi, missing)


def test_fee_info_matches_the_schema(api, openapi, fees):
    response = api.post("/get_fee_info", {"networkId": 31337}, format="json")
    assert response.status_code == 200
    _check(openapi, response)


def test_a_validation_error_matches_the_schema(api, openapi, network):
    response = api.get("/tokens", {"per_page": 100000})
    assert response.status_code == 400 and response.json()["validationErrors"]
    _check(openapi, response)


def test_a_429_matches_the_schema(api, openapi, network):
    RateLimitPolicy.objects.create(
        cost_class=CostClass.LIGHT, ip_limit=1, account_limit=1, api_key_limit=1
    )
    rate_limits_forget()  # fetching the schema above read the policy
    api.get("/tokens")
    response = api.get("/tokens")
    assert response.status_code == 429
    _check(openapi, response)


def test_the_check_catches_a_response_that_strays_from_the_schema(api, openapi, fees):
    response = api.post("/get_fee_info", {"networkId": 31337}, format="json")
    response.content = b'{"makerFee": 1}'
    with pytest.raises(OpenAPIError):
        _check(openapi, response)
    good = api.post("/get_fee_info", {"networkId": 31337}, format="json")
    del good["X-RateLimit-Remaining"]
    with pytest.raises(OpenAPIError):
        _check(openapi, good)
