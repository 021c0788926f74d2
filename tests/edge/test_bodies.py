"""Finding 4 (issue 13): a deeply nested or oversized JSON body is the spec's 400 with code
101 on every POST endpoint, never a 500: the rate limiter's account peek and the DRF
parser both read bodies through json_loads_bounded."""

import json
import sys

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from exchange.api.parsers import MAX_DEPTH, BodyRefused, json_loads_bounded
from exchange.models import Order, Transfer

pytestmark = pytest.mark.django_db

ACCOUNT = "0x" + "ab" * 20
# Deep enough for json's recursion limit (a RecursionError, not a ValueError, before the fix)
# and small enough that the rate limiter peeks at it for the account.
DEEP_ARRAY = b"[" * 20_000 + b"]" * 20_000
DEEP_OBJECT = b'{"a":' * 10_000 + b"1" + b"}" * 10_000


@pytest.fixture
def default_recursion():
    """The interpreter's default recursion limit, as in a server process where no library
    raised it (py_ecc raises it to 100,000 on import): json's scanner then stops with a
    RecursionError at about 1,000 levels, well inside a body the rate limiter peeks at."""
    original = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    yield
    sys.setrecursionlimit(original)


def _api_paths() -> list[str]:
    """The exchange API's routes (exchange/api/urls.py), the account filled in."""
    resolver = next(
        p
        for p in get_resolver().url_patterns
        if isinstance(p, URLResolver)
        and getattr(p.urlconf_name, "__name__", "") == "exchange.api.urls"
    )
    return [
        "/" + str(p.pattern).replace("<str:address>", ACCOUNT)
        for p in resolver.url_patterns
        if isinstance(p, URLPattern)
    ]


def _post_endpoints(api) -> list[str]:
    """The API's endpoints that take POST (the spec's 11, and cancel_all_orders)."""
    return [path for path in _api_paths() if api.post(path, {}, format="json").status_code != 405]


def test_the_api_has_twelve_post_endpoints(api, network):
    assert len(_post_endpoints(api)) == 12


@pytest.mark.parametrize(
    "body",
    [
        DEEP_ARRAY,
        DEEP_OBJECT,
        # The account first, as a peek would find it, then the depth.
        b'{"account": "' + ACCOUNT.encode() + b'", "x": ' + DEEP_ARRAY + b"}",
        b"[" + b'{"account": "' + ACCOUNT.encode() + b'", "x": ' + DEEP_OBJECT + b"}]",
        b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
    ],
    ids=["array", "object", "account-then-deep", "batch-deep", "just-past-the-limit"],
)
def test_deep_nesting_is_a_101_on_every_post_endpoint(api, network, body, default_recursion):
    endpoints = _post_endpoints(api)
    assert len(endpoints) == 12
    for path in endpoints:
        response = api.generic("POST", path, body, content_type="application/json")
        assert response.status_code == 400, (path, response.status_code, response.content[:200])
        assert response["Content-Type"] == "application/json"
        answer = response.json()
        assert answer["code"] == 101, (path, answer)
        assert "nested too deeply" in answer["reason"]
    assert not Order.objects.exists() and not Transfer.objects.exists()


def test_nesting_up_to_the_limit_is_parsed(api, network):
    body = {"account": ACCOUNT, "x": json.loads("[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1))}
    response = api.post("/get_fee_info", body, format="json")
    assert response.status_code == 200


def test_a_body_over_the_limit_is_a_101_on_every_post_endpoint(api, network, settings):
    settings.API_MAX_BODY_BYTES = 4096
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    body = json.dumps({"account": ACCOUNT, "pad": "x" * 5000}).encode()
    for path in _post_endpoints(api):
        response = api.generic("POST", path, body, content_type="application/json")
        assert response.status_code == 400, (path, response.status_code)
        assert response.json()["code"] == 101
        assert "4096 bytes" in response.json()["reason"]


def test_json_loads_bounded_refuses_with_a_value_error():
    for raw in (DEEP_ARRAY, DEEP_OBJECT, b"{", b"\xff", b"NaN"):
        with pytest.raises(BodyRefused):
            json_loads_bounded(raw, parse_constant=lambda name: (_ for _ in ()).throw(ValueError()))
    assert issubclass(BodyRefused, ValueError)
    assert json_loads_bounded(b'{"a": [1, {"b": "[[[["}]}') == {"a": [1, {"b": "[[[["}]}
