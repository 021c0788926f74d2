"""Schemathesis fuzzes every operation of the API's own OpenAPI schema against a live
server (pytest-django's live_server, on the test database) seeded with a market, funded
accounts, orders, trades and transfers: no 5xx, and every response (status, headers,
content type, body, errors included) as the schema describes it.

Short form: FUZZ_EXAMPLES examples per operation (default 15). RUN_SLOW=1 runs
FUZZ_SLOW_EXAMPLES (default 400) per operation. Rate limits are raised for the test
through RateLimitPolicy rows (the middleware still counts every request).
"""

import os
from types import SimpleNamespace

import pytest
import requests
import schemathesis
from django.core.management import call_command
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from exchange.models import CostClass, RateLimitPolicy
from tests.reliability.seed import MAKER, NETWORK_ID, seed_exchange

SLOW = os.environ.get("RUN_SLOW") == "1"
EXAMPLES = int(
    os.environ.get("FUZZ_SLOW_EXAMPLES", "400") if SLOW else os.environ.get("FUZZ_EXAMPLES", "8")
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


# Values the seeded exchange has, as schema examples: the explicit phase sends them, so
# the fuzzer reaches real balances, orders, trades and transfers, not only refusals.
SEEDED = {
    "account": MAKER.address.lower(),
    "address": MAKER.address.lower(),
    "market": "ETH_TST",
    "networkId": NETWORK_ID,
}


def _openapi() -> dict:
    openapi = SchemaGenerator().get_schema(request=None, public=True)
    for component in openapi["components"]["schemas"].values():
        for name, prop in component.get("properties", {}).items():
            if name in SEEDED:
                prop["example"] = SEEDED[name]
    for path_item in openapi["paths"].values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] in SEEDED:
                    parameter["example"] = SEEDED[parameter["name"]]
    return openapi


schema = schemathesis.openapi.from_dict(_openapi())


def raise_rate_limits() -> None:
    for cost_class in CostClass.values:
        RateLimitPolicy.objects.update_or_create(
            cost_class=cost_class,
            defaults={
                "window_seconds": 3600,
                "ip_limit": 10**9,
                "account_limit": 10**9,
                "api_key_limit": 10**9,
            },
        )


@pytest.fixture(scope="module")
def fuzz_server(live_server, django_db_setup, django_db_blocker):
    """One seeded exchange, committed, for every operation's test (the fuzzer writes
    nothing that matters to the next one: its signatures are random); flushed after."""
    with django_db_blocker.unblock(), override_settings(DEFAULT_NETWORK_ID=NETWORK_ID):
        raise_rate_limits()
        seed_exchange(SimpleNamespace())
        session = requests.Session()
        try:
            yield live_server.url, session
        finally:
            session.close()
            call_command("flush", interactive=False, verbosity=0)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not SLOW,  # the short form is the same every run
    phases=[Phase.explicit, Phase.generate] if not SLOW else list(Phase),
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_operation_answers_as_its_schema_says(case, fuzz_server):
    base_url, session = fuzz_server
    case.call_and_validate(base_url=base_url, session=session, checks=CHECKS, timeout=30)
