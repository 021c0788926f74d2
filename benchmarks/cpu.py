"""`python -m benchmarks.cpu create_trades|create_orders`: the app's CPU per fill or
per placed order, in process.

Creates a database of its own (the configured one's name + "_cpu", dropped at the end),
seeds one market with a maker's open asks and funded takers, signs create_trades
bodies beforehand (client work, not measured), then posts them through
django.test.Client: the whole request (middleware, parsing, signature recovery, the
service, the SQL round trips, the response) in this process. It reports the process
CPU time (time.process_time) per fill, which leaves out PostgreSQL's own CPU, and with
--profile the cProfile of the measured requests (top functions by own and by
cumulative time). The figures vary with the machine's load: compare runs made
together.

    python -m benchmarks.cpu create_trades [--requests 400] [--per-request 1]
        [--profile] [--top 30] [--dump file.prof]

create_orders posts one signed order per request (each from one of 20 funded accounts,
its own nonce, alternately both sides of one market, priced apart so that none
matches), signed beforehand; --repeat measures that many rounds of --requests and
reports each round's figure (CPU per request):

    python -m benchmarks.cpu create_orders --requests 1000 --repeat 3 [--profile --top 40]
"""

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relayer.settings")
    import django

    django.setup()


ONE = 10**18
FILL_AMOUNT = 10**15  # of the quote token (the asks' take token)


def _market(**options: Any) -> tuple[Any, Any, Any]:
    """The benchmark's network and its ETH_TST market (`options` for the Market row)."""
    from exchange.models import Market, Network, Token

    network = Network.objects.create(
        id=31337, name="Local", rpc_url="http://127.0.0.1:8545", exchange_address="0x" + "ab" * 20
    )
    base = Token.objects.create(
        network=network, address="0x" + "00" * 20, symbol="ETH", name="Ether", decimals=18
    )
    quote = Token.objects.create(
        network=network, address="0x" + "00" * 19 + "01", symbol="TST", name="Test", decimals=18
    )
    Market.objects.create(network=network, base=base, quote=quote, **options)
    return network, base, quote


def _seed(requests: int, per_request: int) -> tuple[Any, list[list[dict[str, str]]]]:
    """One market, one maker with enough asks for every fill, a taker per request
    (no rate limit or balance row is shared between consecutive requests' takers
    more than the real load shares them); returns the network and the signed bodies."""
    from benchmarks.keys import account
    from exchange.models import FeeSchedule
    from exchange.protocol.hashing import order_hash, trade_hash
    from exchange.services.deposits import deposit_credit
    from exchange.services.orders import order_place

    network, base, quote = _market(allow_unpaid_settlement=True)
    FeeSchedule.objects.create(
        network=network,
        maker_fee=Decimal("0.001"),
        taker_fee=Decimal("0.002"),
        effective_at=datetime(2020, 1, 1, tzinfo=UTC),
    )
    contract = network.exchange_address
    maker = account(0)
    fills = requests * per_request
    orders_needed = max(1, fills // 50)  # each ask takes 50 fills
    deposit_credit(token=base, account=maker.address, amount=1000 * ONE, reference="cpu:maker")
    expiry = int(time.time() * 1000) + 86_400_000
    hashes = []
    for nonce in range(1, orders_needed + 1):
        give, take = ONE, 50 * FILL_AMOUNT * 2  # half of it filled at most
        digest = order_hash(
            contract=contract,
            account=maker.address,
            give_token=base.address,
            give_amount=give,
            take_token=quote.address,
            take_amount=take,
            nonce=nonce,
            expiry_ms=expiry,
        )
        order_place(
            network=network,
            account=maker.address,
            give_token_address=base.address,
            give_amount=give,
            take_token_address=quote.address,
            take_amount=take,
            nonce=nonce,
            expiry_ms=expiry,
            signature=maker.sign(digest),
        )
        hashes.append(digest)
    takers = [account(1 + i) for i in range(20)]
    for taker in takers:
        deposit_credit(
            token=quote, account=taker.address, amount=1000 * ONE, reference=f"cpu:{taker.index}"
        )
    bodies = []
    for i in range(requests):
        taker = takers[i % len(takers)]
        body = []
        for j in range(per_request):
            n = i * per_request + j
            nonce = 1_000_000 + n
            hash_ = hashes[n % len(hashes)]
            digest = trade_hash(
                contract=contract,
                order_hash=hash_,
                amount=FILL_AMOUNT,
                account=taker.address,
                nonce=nonce,
            )
            body.append(
                {
                    "orderHash": hash_,
                    "amount": str(FILL_AMOUNT),
                    "account": taker.address,
                    "nonce": str(nonce),
                    "signature": taker.sign(digest),
                }
            )
        bodies.append(body)
    return network, bodies


def _post(client: Any, path: str, body: Any) -> None:
    response = client.post(path, body, content_type="application/json")
    if response.status_code != 201:
        raise SystemExit(f"{path} answered {response.status_code}: {response.content!r}")


def _posted_cpu(
    client: Any, path: str, bodies: list[Any], profiler: cProfile.Profile | None
) -> float:
    """Posts `bodies` to `path` in turn; the process CPU seconds they took (profiled if
    `profiler` is given)."""
    began = time.process_time()
    if profiler:
        profiler.enable()
    for body in bodies:
        _post(client, path, body)
    if profiler:
        profiler.disable()
    return time.process_time() - began


def _client(network: Any) -> Any:
    """A test client on `network` with the cache emptied and the kept rate limits
    forgotten (what is measured is the write, not the limiter's refusals)."""
    from django.conf import settings
    from django.core.cache import cache
    from django.test import Client

    from exchange.selectors import access

    settings.DEFAULT_NETWORK_ID = network.id
    cache.clear()
    access.rate_limits_forget()
    return Client()


def _profile_print(profiler: cProfile.Profile | None, args: argparse.Namespace) -> None:
    if profiler is None:
        return
    if args.dump:
        profiler.dump_stats(args.dump)
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(order).print_stats(args.top)
        print(out.getvalue())


def create_trades(args: argparse.Namespace) -> None:
    network, bodies = _seed(args.requests + args.warmup, args.per_request)
    # No rate limit between these requests: the counters' clock stands still and the
    # policy allows everything (what is measured is the fill, not the limiter).
    client = _client(network)
    for body in bodies[: args.warmup]:
        _post(client, "/create_trades", body)
    measured = bodies[args.warmup :]
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    samples = []
    for start in range(0, len(measured), 50):
        chunk = measured[start : start + 50]
        cpu = _posted_cpu(client, "/create_trades", chunk, profiler)
        samples.append(cpu / (len(chunk) * args.per_request))
    fills = len(measured) * args.per_request
    print(
        f"create_trades: {len(measured)} requests of {args.per_request} fill(s), "
        f"CPU per fill (process_time, median of {len(samples)} batches of 50 requests): "
        f"{statistics.median(samples) * 1000:.3f} ms, min {min(samples) * 1000:.3f} ms, "
        f"{fills} fills"
    )
    _profile_print(profiler, args)


def _seed_orders(count: int) -> tuple[Any, list[dict[str, str]]]:
    """One market and 20 accounts funded in both tokens; `count` signed create_orders
    bodies, bids well below the asks (nothing matches, every order rests)."""
    from benchmarks.keys import account
    from exchange.protocol.hashing import order_hash
    from exchange.services.deposits import deposit_credit

    network, base, quote = _market()
    contract = network.exchange_address
    accounts = [account(1 + i) for i in range(20)]
    for a in accounts:
        for token in (base, quote):
            deposit_credit(
                token=token,
                account=a.address,
                amount=10**6 * ONE,
                reference=f"cpu:{a.index}:{token.symbol}",
            )
    expiry = int(time.time() * 1000) + 86_400_000
    bodies = []
    for i in range(count):
        a = accounts[i % len(accounts)]
        if i % 2:  # an ask: 1 ETH for 200 TST
            give_token, give, take_token, take = base.address, ONE // 100, quote.address, 2 * ONE
        else:  # a bid: 100 TST for 1 ETH
            give_token, give, take_token, take = quote.address, ONE, base.address, ONE // 100
        nonce = 1 + i
        digest = order_hash(
            contract=contract,
            account=a.address,
            give_token=give_token,
            give_amount=give,
            take_token=take_token,
            take_amount=take,
            nonce=nonce,
            expiry_ms=expiry,
        )
        bodies.append(
            {
                "account": a.address,
                "giveTokenAddress": give_token,
                "giveAmount": str(give),
                "takeTokenAddress": take_token,
                "takeAmount": str(take),
                "nonce": str(nonce),
                "expiryTimestampInMilliseconds": str(expiry),
                "signature": a.sign(digest),
            }
        )
    return network, bodies


def create_orders(args: argparse.Namespace) -> None:
    from exchange.models import CostClass, RateLimitPolicy

    rounds = max(1, args.repeat)
    network, bodies = _seed_orders(args.warmup + rounds * args.requests)
    # Limits no round reaches: every request is counted as usual, none is refused.
    for cost_class in CostClass:
        RateLimitPolicy.objects.create(
            cost_class=cost_class, ip_limit=10**9, account_limit=10**9, api_key_limit=10**9
        )
    client = _client(network)
    for body in bodies[: args.warmup]:
        _post(client, "/create_orders", body)
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    figures = []
    for r in range(rounds):
        start = args.warmup + r * args.requests
        measured = bodies[start : start + args.requests]
        figures.append(_posted_cpu(client, "/create_orders", measured, profiler) / len(measured))
    print(
        f"create_orders: {rounds} round(s) of {args.requests} requests, one order each, "
        "CPU per request (process_time): "
        + ", ".join(f"{f * 1e6:.0f}" for f in figures)
        + f" µs; best {min(figures) * 1e6:.0f} µs ({1 / min(figures):.0f} requests/s of CPU)"
    )
    _profile_print(profiler, args)


SCENARIOS: dict[str, Callable[[argparse.Namespace], None]] = {
    "create_trades": create_trades,
    "create_orders": create_orders,
}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cpu", description=__doc__)
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--requests", type=int, default=400, help="measured requests")
    parser.add_argument("--warmup", type=int, default=50, help="requests before measuring")
    parser.add_argument("--per-request", type=int, default=1, help="fills per request")
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds of --requests measured (create_orders)"
    )
    parser.add_argument("--profile", action="store_true", help="print the cProfile")
    parser.add_argument("--top", type=int, default=30, help="functions shown per order")
    parser.add_argument("--dump", help="write the cProfile stats to this file")
    args = parser.parse_args(argv)
    _setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.DEBUG = False
    test = settings.DATABASES["default"].setdefault("TEST", {})
    test["NAME"] = f"{settings.DATABASES['default']['NAME']}_cpu"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        SCENARIOS[args.scenario](args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main(sys.argv[1:])
