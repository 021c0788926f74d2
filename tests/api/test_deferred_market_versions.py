"""The market data's new versions (exchange/market_snapshots.py) committed while the
rate limiter serves a request are written in its round trip after the view, with the
signers' count, and always before the middleware hands the response back: also when
the view fails, answers an error or verified no signer. Outside that request they are
written at the commit, as ever. On the real Redis and PostgreSQL (transactional tests:
the commits and their on-commit hooks run as in production)."""

import json

import pytest
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse
from django.test import RequestFactory

from exchange import market_snapshots
from exchange.api.throttling import RateLimitMiddleware
from exchange.services.signing import signer_verified

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNT = "0x" + "12" * 20


@pytest.fixture(autouse=True)
def _snapshots_on(settings):
    settings.MARKET_DATA_CACHE_SECONDS = 600


def _versions(market) -> tuple:
    return (
        cache.get(market_snapshots._market_key(market.id)),
        cache.get(market_snapshots._network_key(market.network_id)),
    )


def _request():
    return RequestFactory().post(
        "/create_orders", data=json.dumps({"account": ACCOUNT}), content_type="application/json"
    )


def _served(view) -> HttpResponse:
    return RateLimitMiddleware(view)(_request())


def _writing_view(market, seen: list, *, status: int = 201, signed: bool = True, fail=False):
    """A view that commits a change to the market, records what the cache holds right
    after its commit, then answers `status` (or raises)."""

    def view(request):
        if signed:
            signer_verified(ACCOUNT)
        with transaction.atomic():
            market_snapshots.market_data_changed(
                network_id=market.network_id, market_ids=[market.id]
            )
        seen.append(_versions(market))
        if fail:
            raise RuntimeError("the view failed after its commit")
        return HttpResponse(status=status)

    return view


def test_a_signed_write_s_versions_go_with_the_count_before_the_response(market):
    before = _versions(market)
    seen: list = []

    response = _served(_writing_view(market, seen))

    assert response.status_code == 201
    assert seen == [before]  # deferred at the commit...
    after = _versions(market)  # ...and written before the response came back
    assert after[0] is not None and after[1] is not None
    assert after[0] != before[0] and after[1] != before[1]
    assert response["X-RateLimit-Remaining"]


@pytest.mark.parametrize(
    ("status", "signed"), [(400, True), (500, True), (201, False)], ids=["400", "500", "unsigned"]
)
def test_versions_are_written_before_an_uncounted_response(market, status, signed):
    before = _versions(market)
    seen: list = []

    response = _served(_writing_view(market, seen, status=status, signed=signed))

    assert response.status_code == status
    assert seen == [before]
    after = _versions(market)
    assert after[0] != before[0] and after[1] != before[1]


def test_versions_are_written_when_the_view_raises(market):
    before = _versions(market)
    seen: list = []

    with pytest.raises(RuntimeError):
        _served(_writing_view(market, seen, fail=True))

    assert seen == [before]
    after = _versions(market)
    assert after[0] != before[0] and after[1] != before[1]


def test_outside_a_request_versions_are_written_at_the_commit(market):
    before = _versions(market)

    with transaction.atomic():
        market_snapshots.market_data_changed(network_id=market.network_id, market_ids=[market.id])
        assert _versions(market) == before  # not before the commit

    after = _versions(market)
    assert after[0] != before[0] and after[1] != before[1]


def test_a_deferral_with_nothing_taken_writes_at_its_exit(market):
    before = _versions(market)

    with market_snapshots.bumps_deferred():
        with transaction.atomic():
            market_snapshots.market_data_changed(
                network_id=market.network_id, market_ids=[market.id]
            )
        assert _versions(market) == before

    after = _versions(market)
    assert after[0] != before[0] and after[1] != before[1]


def test_the_cache_failing_after_the_view_only_logs(market, settings, caplog):
    seen: list = []
    view = _writing_view(market, seen)

    def failing_cache_view(request):
        response = view(request)
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://127.0.0.1:1/0",
            }
        }
        return response

    response = _served(failing_cache_view)

    assert response.status_code == 201
    assert "event=ratelimit_cache_error" in caplog.text
    assert "event=market_snapshot_cache_error op=bump" in caplog.text
