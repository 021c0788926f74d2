"""Finding 3 (issue 13): nobody can spend an account's rate-limit budget but its owner.

An account's budget is charged only by requests whose signature verified for it and that
succeeded; unsigned, badly signed, failing or replayed requests that name the account count
against their sender's IP alone, whatever the body size (finding 9's >64 KiB skip)."""

import json

import pytest

from exchange.models import CostClass, Order, OrderStatus, RateLimitPolicy
from tests.api.test_orders import bid
from tests.signing import address_of, new_signer, signed_cancel

pytestmark = pytest.mark.django_db

ACCOUNT_LIMIT = 4


@pytest.fixture
def write_limits():
    """A tight account budget for writes, a generous one per IP (the attacker has many)."""
    return RateLimitPolicy.objects.create(
        cost_class=CostClass.WRITE,
        window_seconds=3600,
        ip_limit=1000,
        account_limit=ACCOUNT_LIMIT,
        api_key_limit=1000,
    )


def _post(api, path, body, ip, **extra):
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return api.generic("POST", path, body, content_type="application/json", REMOTE_ADDR=ip, **extra)


def _junk_naming(victim: str, order_hash: str, stranger) -> list[tuple[str, object]]:
    """Writes that name the victim's account and never verify as the victim's."""
    wrong_key = signed_cancel(stranger, order_hash=order_hash, account=victim)
    return [
        ("/create_orders", {"account": victim, "giveAmount": "1"}),
        ("/delete_orders", {"account": victim, "orderHash": order_hash, "signature": "0x00"}),
        ("/delete_orders", wrong_key),
        ("/create_transfers", {"account": victim, "amount": "1", "nonce": "1"}),
        ("/create_trades", [{"account": victim, "orderHash": order_hash, "amount": "1"}]),
        # Over 64 KiB: before the fix the limiter did not even look at the account.
        ("/create_orders", {"account": victim, "pad": "x" * 70_000}),
        ("/create_orders", b'{"account": "' + victim.encode() + b'", "x": ' + b"[" * 5000),
    ]


def test_unsigned_junk_naming_a_victim_cannot_lock_the_victim_out(
    api, network, market, trader, write_limits
):
    victim = address_of(trader)
    placed = _post(api, "/create_orders", bid(network, market, trader), "10.9.0.1")
    assert placed.status_code == 201
    order_hash = placed.json()["orderHash"]
    stranger = new_signer()

    # Hundreds of junk writes naming the victim, from several IPs, directly and through a
    # trusted proxy's X-Forwarded-For.
    junk = _junk_naming(victim, order_hash, stranger)
    statuses = set()
    for round_ in range(40):
        for index, (path, body) in enumerate(junk):
            ip = f"10.66.{round_ % 5}.{index}"
            statuses.add(_post(api, path, body, ip).status_code)
    assert 429 not in statuses and all(status < 500 for status in statuses)
    assert len(junk) * 40 >= 280

    cancelled = _post(
        api, "/delete_orders", signed_cancel(trader, order_hash=order_hash), "10.9.0.2"
    )
    assert cancelled.status_code == 200, cancelled.content
    assert Order.objects.get(hash=order_hash).status == OrderStatus.CANCELLED


def test_behind_a_trusted_proxy_the_junk_counts_against_the_forwarded_ips(
    api, network, market, trader, write_limits, settings
):
    settings.RATELIMIT_TRUSTED_PROXIES = 1
    victim = address_of(trader)
    placed = _post(api, "/create_orders", bid(network, market, trader), "172.20.0.2")
    order_hash = placed.json()["orderHash"]
    for i in range(200):
        response = _post(
            api,
            "/delete_orders",
            {"account": victim, "orderHash": order_hash, "signature": "0x" + "11" * 65},
            "172.20.0.2",  # the proxy
            HTTP_X_FORWARDED_FOR=f"198.51.100.{i % 7}",
        )
        assert response.status_code == 400
    cancel = signed_cancel(trader, order_hash=order_hash)
    answer = _post(api, "/delete_orders", cancel, "172.20.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert answer.status_code == 200


def test_the_owners_own_signed_writes_still_spend_the_budget(
    api, network, market, trader, write_limits
):
    statuses = [
        _post(
            api, "/create_orders", bid(network, market, trader, give=10**12), f"10.7.0.{i}"
        ).status_code
        for i in range(ACCOUNT_LIMIT + 1)
    ]
    assert statuses == [201] * ACCOUNT_LIMIT + [429]
    refused = _post(api, "/create_orders", bid(network, market, trader, give=10**12), "10.7.1.1")
    assert refused.status_code == 429 and refused.json()["code"] == 103
    assert Order.objects.filter(account=address_of(trader)).count() == ACCOUNT_LIMIT
    # Another account is untouched.
    other = _post(api, "/create_orders", {"account": "0x" + "77" * 20}, "10.7.1.1")
    assert other.status_code == 400


def test_a_large_signed_body_spends_the_budget_too(api, network, market, trader, write_limits):
    """Over 64 KiB the owner's writes counted against nothing before the fix."""
    statuses = []
    for i in range(ACCOUNT_LIMIT + 1):
        body = {**bid(network, market, trader, give=10**12), "pad": "x" * 70_000}
        statuses.append(_post(api, "/create_orders", body, f"10.8.0.{i}").status_code)
    assert statuses == [201] * ACCOUNT_LIMIT + [429]
