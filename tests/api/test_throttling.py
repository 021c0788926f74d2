"""Rate limits on every API response, 429 then 418 with escalating bans, and lifting."""

import socket
from datetime import timedelta

import pytest
import redis.connection
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from exchange.api import throttling
from exchange.models import Ban, CostClass, RateLimitPolicy
from exchange.services.api_keys import api_key_issue
from exchange.services.bans import ban_impose

pytestmark = pytest.mark.django_db

ACCOUNT = "0x" + "12" * 20


class Clock:
    def __init__(self):
        self.now = timezone.now()

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The ban clock. The counters' clock stands still (tests/conftest.py): a test
    starts a new rate-limit window by clearing the cache."""
    clock = Clock()
    monkeypatch.setattr(throttling, "now", clock)
    return clock


@pytest.fixture
def small_limits(settings):
    settings.RATELIMIT_BAN_AFTER = 2
    settings.RATELIMIT_BAN_WINDOW = 300
    settings.RATELIMIT_BAN_BASE_SECONDS = 60
    settings.RATELIMIT_BAN_MAX_SECONDS = 240
    return RateLimitPolicy.objects.create(
        cost_class=CostClass.LIGHT,
        window_seconds=3600,
        ip_limit=2,
        account_limit=3,
        api_key_limit=5,
    )


def _fee_info(api: APIClient, ip: str = "10.0.0.1", **extra):
    return api.post("/get_fee_info", extra.pop("data", {}), format="json", REMOTE_ADDR=ip, **extra)


def _rate_limited_paths() -> list[str]:
    """Every route of the URLconf outside the exempt prefixes, converters filled in."""
    samples = {"str": "0x" + "ab" * 20, "int": "1", "slug": "x", "uuid": "0" * 32, "path": "x"}
    paths = []

    def walk(patterns, prefix):
        for pattern in patterns:
            route = str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + route)
            elif isinstance(pattern, URLPattern):
                full = prefix + route
                for converter, sample in samples.items():
                    while f"<{converter}:" in full:
                        start = full.index(f"<{converter}:")
                        full = full[:start] + sample + full[full.index(">", start) + 1 :]
                paths.append("/" + full.lstrip("^").rstrip("$"))

    walk(get_resolver().url_patterns, "")
    return [p for p in paths if throttling.is_rate_limited_path(p)]


def test_the_urlconf_walk_finds_the_api():
    assert {"/tokens", "/get_fee_info", "/helpers/return_contract_address", "/schema"} <= set(
        _rate_limited_paths()
    )


@pytest.mark.parametrize("path", _rate_limited_paths())
@pytest.mark.parametrize("method", ["get", "post"])
def test_every_endpoint_carries_the_rate_limit_headers(api, network, path, method):
    response = getattr(api, method)(path)
    assert response.status_code < 500
    assert int(response["X-RateLimit-Limit"]) > 0
    assert 0 <= int(response["X-RateLimit-Remaining"]) < int(response["X-RateLimit-Limit"])
    assert int(response["X-RateLimit-Reset"]) >= int(timezone.now().timestamp())


def test_errors_carry_the_headers_too(api, network):
    unknown_route = api.get("/nope")
    bad_network = api.get("/tokens", {"networkId": "x"})
    assert unknown_route.status_code == 404 and bad_network.status_code == 400
    for response in (unknown_route, bad_network):
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(
            response.headers
        )


def test_the_admin_and_health_are_not_rate_limited(api, network):
    assert "X-RateLimit-Limit" not in api.get("/admin/login/").headers
    assert "X-RateLimit-Limit" not in api.get("/metrics").headers


def test_remaining_counts_down_in_the_window(api, network, small_limits):
    first, second = _fee_info(api), _fee_info(api)
    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"]) == ("2", "1")
    assert second["X-RateLimit-Remaining"] == "0"
    reset = int(second["X-RateLimit-Reset"])
    now = int(timezone.now().timestamp())
    assert now <= reset <= now + 3600


def test_over_the_limit_is_a_429_with_code_103(api, network, small_limits):
    _fee_info(api), _fee_info(api)
    response = _fee_info(api)
    assert response.status_code == 429
    assert response.json()["code"] == 103
    assert response["X-RateLimit-Remaining"] == "0"
    assert int(response["Retry-After"]) >= 1


def test_limits_are_per_client_ip(api, network, small_limits):
    _fee_info(api, "10.0.0.1"), _fee_info(api, "10.0.0.1")
    assert _fee_info(api, "10.0.0.1").status_code == 429
    assert _fee_info(api, "10.0.0.2").status_code == 200


def test_requests_merely_naming_an_account_do_not_spend_its_budget(api, network, small_limits):
    # Only the account's own verified, successful writes do (tests/edge/test_account_budget.py).
    body = {"account": ACCOUNT.upper().replace("0X", "0x")}
    statuses = [_fee_info(api, f"10.0.1.{i}", data=body).status_code for i in range(4)]
    statuses += [
        api.post(f"/get_fee_info?account={ACCOUNT}", REMOTE_ADDR=f"10.0.2.{i}").status_code
        for i in range(4)
    ]
    assert statuses == [200] * 8


def test_the_view_still_reads_a_body_the_limiter_peeked_at(api, network, small_limits):
    response = _fee_info(api, data={"account": ACCOUNT, "networkId": "x"})
    assert response.status_code == 400
    assert response.json()["validationErrors"][0]["field"] == "networkId"


def test_a_form_body_is_peeked_at_and_still_parsed(api, network, small_limits):
    parsed = api.post(
        "/get_fee_info",
        f"account=0x{'34' * 20}&networkId=x",
        content_type="application/x-www-form-urlencoded",
        REMOTE_ADDR="10.0.3.10",
    )
    assert parsed.json()["validationErrors"][0]["field"] == "networkId"


def test_an_operator_policy_applies_per_cost_class(api, network, small_limits):
    # Tokens and fee info are both light: one budget. Other classes are untouched.
    _fee_info(api), api.get("/tokens", REMOTE_ADDR="10.0.0.1")
    assert api.get("/tokens", REMOTE_ADDR="10.0.0.1").status_code == 429


def test_a_client_that_keeps_sending_after_429s_is_banned_with_418(
    api, network, small_limits, clock
):
    statuses = [_fee_info(api).status_code for _ in range(6)]
    assert statuses == [200, 200, 429, 429, 418, 418]
    ban = Ban.objects.get(client="ip:10.0.0.1")
    assert ban.strikes == 1
    assert ban.until == clock.now + timedelta(seconds=60)
    banned = _fee_info(api)
    assert banned.json()["code"] == 418
    assert int(banned["Retry-After"]) == 60
    assert banned["X-RateLimit-Remaining"] == "0"
    # Other clients are served.
    assert _fee_info(api, "10.0.0.2").status_code == 200


def test_a_ban_expires_and_the_next_one_is_twice_as_long_up_to_the_cap(
    api, network, small_limits, clock
):
    lengths = []
    for _ in range(4):
        cache.clear()  # a new rate-limit window
        statuses = [_fee_info(api).status_code for _ in range(5)]
        assert statuses == [200, 200, 429, 429, 418]
        ban = Ban.objects.get(client="ip:10.0.0.1")
        lengths.append((ban.until - clock.now).total_seconds())
        clock.advance(seconds=lengths[-1] - 1)
        assert _fee_info(api).status_code == 418
        clock.advance(seconds=2)
    assert lengths == [60, 120, 240, 240]
    cache.clear()
    assert _fee_info(api).status_code == 200


def test_sending_on_right_after_a_ban_bans_again_at_once(api, network, small_limits, clock):
    for _ in range(5):
        _fee_info(api)
    clock.advance(seconds=61)
    # Still over the limit in the same window: the next 429 is a strike past the threshold.
    assert _fee_info(api).status_code == 418
    assert Ban.objects.get(client="ip:10.0.0.1").strikes == 2


def test_strikes_are_forgotten_after_good_behaviour(api, network, small_limits, clock):
    for _ in range(5):
        _fee_info(api)
    clock.advance(seconds=60 + 240 + 1)
    cache.clear()
    for _ in range(5):
        _fee_info(api)
    assert Ban.objects.get(client="ip:10.0.0.1").strikes == 1


def test_requests_refused_during_a_ban_do_not_use_up_the_next_window(
    api, network, small_limits, clock
):
    ban_impose(client="ip:10.0.0.1", reason="test", now=clock.now)
    assert [_fee_info(api).status_code for _ in range(3)] == [418, 418, 418]
    clock.advance(seconds=61)
    served = _fee_info(api)
    assert served.status_code == 200
    assert served["X-RateLimit-Remaining"] == "1"


def test_a_request_checks_bans_and_counts_in_one_redis_round_trip(
    api, network, small_limits, monkeypatch
):
    _fee_info(api, data={"account": ACCOUNT})  # the ban states are now cached
    sent = []
    original = redis.connection.Connection.send_packed_command

    def spy(self, command, *args, **kwargs):
        sent.append(command)
        return original(self, command, *args, **kwargs)

    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", spy)
    response = _fee_info(api, data={"account": ACCOUNT})
    assert response.status_code == 200
    assert response["X-RateLimit-Remaining"] == "0"  # the IP's counter: 2 of 2
    assert len(sent) == 1


def test_an_operator_lifts_a_ban_in_the_admin(api, network, small_limits):
    for _ in range(5):
        _fee_info(api)
    ban = Ban.objects.get(client="ip:10.0.0.1")
    operator = get_user_model().objects.create_superuser("op", "op@example.com", "pw")
    admin = APIClient()
    admin.force_login(operator)
    listing = admin.get("/admin/exchange/ban/")
    assert listing.status_code == 200 and b"ip:10.0.0.1" in listing.content
    response = admin.post(
        "/admin/exchange/ban/",
        {"action": "lift", "_selected_action": [ban.pk]},
    )
    assert response.status_code == 302
    ban.refresh_from_db()
    assert ban.strikes == 0 and ban.until <= timezone.now()
    cache.clear()
    assert _fee_info(api).status_code == 200


def test_an_api_key_raises_the_limits(api, network, small_limits):
    _, raw_key = api_key_issue(name="market maker")
    statuses = [_fee_info(api, HTTP_X_API_KEY=raw_key).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    # The key's budget is its own: the IP's is untouched.
    response = _fee_info(api)
    assert response.status_code == 200 and response["X-RateLimit-Limit"] == "2"


def test_a_key_holder_that_keeps_sending_bans_the_key(api, network, small_limits, clock):
    api_key, raw_key = api_key_issue(name="noisy")
    for _ in range(8):
        last = _fee_info(api, HTTP_X_API_KEY=raw_key)
    assert last.status_code == 418
    assert Ban.objects.filter(client=f"key:{api_key.pk}").exists()


def test_a_keys_multiplier_scales_its_limit(api, network, small_limits):
    _, raw_key = api_key_issue(name="big", rate_limit_multiplier=3)
    assert _fee_info(api, HTTP_X_API_KEY=raw_key)["X-RateLimit-Limit"] == "15"


def test_behind_trusted_proxies_the_forwarded_client_is_counted(
    api, network, settings, small_limits
):
    settings.RATELIMIT_TRUSTED_PROXIES = 1
    for _ in range(2):
        _fee_info(api, "10.9.9.9", HTTP_X_FORWARDED_FOR="spoofed, 198.51.100.7")
    assert _fee_info(api, "10.9.9.9", HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429
    assert _fee_info(api, "10.9.9.9", HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 200


def test_a_forged_forwarded_for_from_a_peer_that_is_no_proxy_changes_nothing(
    api, network, settings, small_limits
):
    settings.RATELIMIT_TRUSTED_PROXIES = 1
    settings.RATELIMIT_TRUSTED_PROXY_ADDRESSES = ["172.20.0.2/32"]
    for i in range(2):
        _fee_info(api, "203.0.113.50", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
    # Every forged address was the sender's own: its budget is spent whatever it claims.
    assert _fee_info(api, "203.0.113.50", HTTP_X_FORWARDED_FOR="198.51.100.9").status_code == 429
    # Through the configured proxy, the forwarded client is counted.
    assert _fee_info(api, "172.20.0.2", HTTP_X_FORWARDED_FOR="198.51.100.9").status_code == 200


def test_trusted_proxy_addresses_are_networks_of_either_family(settings):
    settings.RATELIMIT_TRUSTED_PROXY_ADDRESSES = ["10.1.0.0/16", "fd00::/8"]
    assert throttling.is_trusted_proxy("10.1.200.3") and throttling.is_trusted_proxy("fd12::1")
    assert not throttling.is_trusted_proxy("10.2.0.1")
    assert not throttling.is_trusted_proxy("::ffff:10.1.0.1")
    assert not throttling.is_trusted_proxy("not-an-address")


def test_with_the_cache_down_requests_are_served_with_the_headers(api, network, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
        }
    }
    response = api.get("/tokens")
    assert response.status_code == 200
    assert response["X-RateLimit-Remaining"] == response["X-RateLimit-Limit"]
