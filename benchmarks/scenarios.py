"""Every benchmark, as a declarative entry: its requests, its baseline and its targets.

An HTTP scenario runs once its endpoint resolves in relayer/urls.py (the branch that
builds it has been merged); until then it is reported as "not measured yet". A worker
scenario is a function of benchmarks/workers.py run against a local anvil.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks import workers
from benchmarks.load import Request
from benchmarks.seed import MARKET_NONCE, ONE, Seeded
from exchange.protocol.hashing import cancel_hash, order_hash, trade_hash, withdraw_hash

# How many signed bodies a write scenario prepares per second of load: above what two
# gunicorn workers on this machine can take, so no request is ever replayed.
WRITE_RATE_CEILING = 3_000


@dataclass(frozen=True)
class Target:
    """A goal for one figure. kind: min_throughput (per s), min_throughput_ratio
    (of the baseline's), max_p99_ratio and max_p50_ratio (of the baseline's), max_seconds
    (the largest of a worker scenario's delays, max_s), max_p99_over_p50 (the scenario's
    own p99 over its own p50)."""

    kind: str
    value: float

    def describe(self) -> str:
        return {
            "min_throughput": f">= {self.value:g}/s",
            "min_throughput_ratio": f">= {self.value:.0%} of baseline/s",
            "max_p99_ratio": f"p99 <= {self.value:g}x baseline p99",
            "max_p50_ratio": f"p50 <= {self.value:g}x baseline p50",
            "max_seconds": f"max <= {self.value:g} s",
            "max_p99_over_p50": f"p99 <= {self.value:g}x p50",
        }[self.kind]

    def met(self, figures: dict, baseline: dict) -> bool:
        if self.kind == "min_throughput":
            return figures["throughput"] >= self.value
        if self.kind == "min_throughput_ratio":
            return figures["throughput"] >= self.value * baseline["throughput"]
        if self.kind == "max_p99_ratio":
            return figures["p99_ms"] <= self.value * baseline["p99_ms"]
        if self.kind == "max_p50_ratio":
            return figures["p50_ms"] <= self.value * baseline["p50_ms"]
        if self.kind == "max_seconds":
            return figures["max_s"] <= self.value
        if self.kind == "max_p99_over_p50":
            return figures["p99_ms"] <= self.value * figures["p50_ms"]
        raise ValueError(self.kind)


RequestMaker = Callable[[Seeded, float], list[Request]]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    baseline: str  # the baseline scenario its figures are divided by
    requests: RequestMaker  # (seeded data, seconds of load) -> the requests
    once: bool = False  # each request sent once (signed writes: replay is refused)
    targets: tuple[Target, ...] = ()
    server: str = "api"  # or "baseline"
    probe: str = ""  # the path that must resolve for the scenario to run


@dataclass(frozen=True)
class WorkerScenario:
    name: str
    description: str
    run: Callable[[workers.WorkerRun], dict | str]  # figures, or why not measured
    targets: tuple[Target, ...] = ()


def _now_ms() -> int:
    return int(time.time() * 1000)


# Baselines -------------------------------------------------------------------------------


def _tiny(seeded: Seeded, seconds: float) -> list[Request]:
    return [Request("GET", "/tiny")]


def _recover(seeded: Seeded, seconds: float) -> list[Request]:
    requests = []
    for i, account in enumerate(seeded.accounts[:500]):
        digest = "0x" + f"{i:064x}"
        requests.append(
            Request("POST", "/recover", {"hash": digest, "signature": account.sign(digest)})
        )
    return requests


def _row(seeded: Seeded, seconds: float) -> list[Request]:
    return [Request("GET", f"/row/{pk}") for pk in seeded.balance_ids]


# The API -------------------------------------------------------------------------------


def _create_orders(seeded: Seeded, seconds: float) -> list[Request]:
    """Fresh signed bids in ETH_TKB from every funded account but the fill makers."""
    count = int(WRITE_RATE_CEILING * seconds)
    eth, tkb = seeded.tokens["ETH"], seeded.tokens["TKB"]
    signers = seeded.accounts[len(seeded.fill_orders) :]
    nonce0 = _now_ms()
    expiry = nonce0 + 30 * 86_400_000
    requests = []
    for i in range(count):
        account = signers[i % len(signers)]
        take = (1 + i % 10) * ONE
        give = take * (900 + i % 100) // 1_000_000  # 0.0009-0.000999 ETH per TKB
        nonce = nonce0 + i
        digest = order_hash(
            contract=seeded.contract,
            account=account.address,
            give_token=eth,
            give_amount=give,
            take_token=tkb,
            take_amount=take,
            nonce=nonce,
            expiry_ms=expiry,
        )
        body = {
            "account": account.address,
            "giveTokenAddress": eth,
            "giveAmount": str(give),
            "takeTokenAddress": tkb,
            "takeAmount": str(take),
            "nonce": str(nonce),
            "expiryTimestampInMilliseconds": str(expiry),
            "orderHash": digest,
            "signature": account.sign(digest),
        }
        requests.append(Request("POST", "/create_orders", body))
    return requests


def _delete_orders(seeded: Seeded, seconds: float) -> list[Request]:
    """Signed cancels of open orders, each sent once: the orders create_orders placed in
    ETH_TKB first (newest first), then the ETH_TKA book's from its newest (never the
    ETH_TKC asks the fills use, nor the asks create_trades_markets fills, ETH_TKA's
    among them)."""
    from exchange.models import Order

    count = int(WRITE_RATE_CEILING * seconds)
    by_address = {account.address: account for account in seeded.accounts}
    open_orders: list[tuple[str, str]] = []
    for market in ("ETH_TKB", "ETH_TKA"):
        open_orders += (
            Order.objects.filter(
                market_id=seeded.markets[market],
                status="OPEN",
                expiry_ms__gt=_now_ms() + 60_000,
                nonce__lt=MARKET_NONCE,
            )
            .order_by("-id")
            .values_list("hash", "account")[: count - len(open_orders)]
        )
    nonce = _now_ms()
    requests = []
    for digest, owner in open_orders:
        account = by_address.get(owner)
        if account is None:
            continue
        body = {
            "orderHash": digest,
            "account": owner,
            "nonce": str(nonce),
            "signature": account.sign(cancel_hash(order_hash=digest, nonce=nonce)),
        }
        requests.append(Request("POST", "/delete_orders", body))
    return requests


WITHDRAW_AMOUNT = 10**15  # of TKD per request: a millionth of a thousandth of a balance


def _create_transfers(seeded: Seeded, seconds: float) -> list[Request]:
    """Signed withdrawal requests of TKD (no fee, no minimum), fresh nonces, each sent once."""
    count = int(WRITE_RATE_CEILING * seconds)
    token = seeded.tokens["TKD"]
    signers = seeded.accounts[len(seeded.fill_orders) :]
    nonce0 = _now_ms()
    requests = []
    for i in range(count):
        account = signers[i % len(signers)]
        digest = withdraw_hash(
            contract=seeded.contract,
            token=token,
            amount=WITHDRAW_AMOUNT,
            account=account.address,
            nonce=nonce0 + i,
        )
        body = {
            "account": account.address,
            "tokenAddress": token,
            "amount": str(WITHDRAW_AMOUNT),
            "nonce": str(nonce0 + i),
            "signature": account.sign(digest),
        }
        requests.append(Request("POST", "/create_transfers", body))
    return requests


FILL_AMOUNT = 10**12  # wei of ETH (the fill orders' take token): 10^15 TKC received


def _fills(seeded: Seeded, seconds: float, *, per_request: int) -> list[Request]:
    """Signed create_trades bodies: a taker (never a maker) fills `per_request` asks."""
    return _signed_fills(seeded, seconds, per_request=per_request, markets=[seeded.fill_orders])


def _fills_across_markets(seeded: Seeded, seconds: float) -> list[Request]:
    """One fill per request, request i in market i mod 10: consecutive requests (served
    in parallel) fill different markets."""
    return _signed_fills(seeded, seconds, per_request=1, markets=seeded.market_fill_orders)


def _signed_fills(
    seeded: Seeded, seconds: float, *, per_request: int, markets: list[list[dict]]
) -> list[Request]:
    count = int(WRITE_RATE_CEILING * seconds / per_request)
    takers = seeded.accounts[len(seeded.fill_orders) : -1]
    nonce0 = _now_ms()
    requests = []
    for i in range(count):
        taker = takers[i % len(takers)]
        orders = markets[i % len(markets)]
        fills = []
        for j in range(per_request):
            order = orders[(i // len(markets) * per_request + j) % len(orders)]
            nonce = nonce0 + i * per_request + j
            digest = trade_hash(
                contract=seeded.contract,
                order_hash=order["hash"],
                amount=FILL_AMOUNT,
                account=taker.address,
                nonce=nonce,
            )
            fills.append(
                {
                    "account": taker.address,
                    "amount": str(FILL_AMOUNT),
                    "orderHash": order["hash"],
                    "nonce": str(nonce),
                    "signature": taker.sign(digest),
                }
            )
        requests.append(Request("POST", "/create_trades", fills))
    return requests


def _orderbook(seeded: Seeded, seconds: float) -> list[Request]:
    return [Request("POST", "/get_orderbook", {"market": "ETH_TKA", "per_page": 100})]


def _trades_page(seeded: Seeded, seconds: float) -> list[Request]:
    page = max(1, min(50, seeded.hot_trades // 100 // 2))
    body = {"account": seeded.hot_account, "page": page, "per_page": 100}
    return [Request("POST", "/get_trades", body)]


def _ticker(seeded: Seeded, seconds: float) -> list[Request]:
    return [Request("POST", "/get_ticker", {})]


def _chart(period: int, days: int) -> RequestMaker:
    def make(seeded: Seeded, seconds: float) -> list[Request]:
        end = _now_ms()
        body = {
            "market": "ETH_TKA",
            "periodInSeconds": str(period),
            "startingTimestampInMilliseconds": str(end - days * 86_400_000),
            "endingTimestampInMilliseconds": str(end),
        }
        return [Request("POST", "/get_chart_data", body)]

    return make


def _account(seeded: Seeded, seconds: float) -> list[Request]:
    return [Request("GET", f"/accounts/{account.address}") for account in seeded.accounts[:500]]


BASELINES = [
    Scenario("baseline_tiny", "GET a tiny JSON response", "", _tiny, server="baseline"),
    Scenario(
        "baseline_recover", "POST that recovers one signature", "", _recover, server="baseline"
    ),
    Scenario("baseline_row", "GET one ORM row", "", _row, server="baseline"),
]

SCENARIOS = [
    Scenario(
        "get_orderbook",
        "100 per side of ETH_TKA at the seeded open orders",
        "baseline_row",
        _orderbook,
        targets=(Target("min_throughput_ratio", 0.40), Target("max_p99_ratio", 3)),
        probe="/get_orderbook",
    ),
    Scenario(
        "get_trades",
        "page 50 of the hot account's trades (10k at scale 1)",
        "baseline_row",
        _trades_page,
        targets=(Target("min_throughput_ratio", 0.40),),
        probe="/get_trades",
    ),
    Scenario(
        "get_ticker",
        "every market's 24 h ticker",
        "baseline_row",
        _ticker,
        targets=(Target("max_p50_ratio", 2),),
        probe="/get_ticker",
    ),
    Scenario(
        "get_chart_data_day_5m",
        "one day of 5-minute candles, ETH_TKA",
        "baseline_row",
        _chart(300, 1),
        targets=(Target("max_p50_ratio", 2),),
        probe="/get_chart_data",
    ),
    Scenario(
        "get_chart_data_year_1d",
        "a year of daily candles, ETH_TKA",
        "baseline_row",
        _chart(86_400, 365),
        targets=(Target("max_p50_ratio", 2),),
        probe="/get_chart_data",
    ),
    Scenario(
        "get_account",
        "GET /accounts/:address, 500 funded accounts in turn",
        "baseline_row",
        _account,
        probe="/accounts/0x" + "00" * 20,
    ),
    Scenario(
        "create_orders",
        "signed bids, fresh nonces, funded accounts, each sent once",
        "baseline_recover",
        _create_orders,
        once=True,
        targets=(
            Target("min_throughput", 1_000),
            Target("min_throughput_ratio", 0.30),
            Target("max_p99_over_p50", 3),
        ),
        probe="/create_orders",
    ),
    Scenario(
        "delete_orders",
        "signed cancels of open orders (create_orders' first, then the book's), each once",
        "baseline_recover",
        _delete_orders,
        once=True,
        targets=(Target("min_throughput", 1_000), Target("max_p99_over_p50", 3)),
        probe="/delete_orders",
    ),
    Scenario(
        "create_transfers",
        "signed withdrawal requests of TKD, fresh nonces, each sent once",
        "baseline_recover",
        _create_transfers,
        once=True,
        targets=(Target("min_throughput", 800), Target("max_p99_over_p50", 3)),
        probe="/create_transfers",
    ),
    Scenario(
        "create_trades_single",
        "one signed fill per request, each sent once",
        "baseline_recover",
        lambda seeded, seconds: _fills(seeded, seconds, per_request=1),
        once=True,
        targets=(Target("min_throughput", 500),),
        probe="/create_trades",
    ),
    Scenario(
        "create_trades_five",
        "five signed fills in one atomic request, each sent once",
        "baseline_recover",
        lambda seeded, seconds: _fills(seeded, seconds, per_request=5),
        once=True,
        targets=(Target("min_throughput", 200),),
        probe="/create_trades",
    ),
    Scenario(
        "create_trades_markets",
        "one signed fill per request, ten markets in turn (fills in parallel), each sent once",
        "baseline_recover",
        _fills_across_markets,
        once=True,
        targets=(Target("min_throughput", 750),),  # 1.5x create_trades_single's 500/s
        probe="/create_trades",
    ),
]

WORKER_SCENARIOS = [
    WorkerScenario(
        "deposits_credited",
        "Ether deposits from 5,000 accounts land in a burst; the watcher task credits them",
        workers.deposits_credited,
        targets=(Target("min_throughput", 1_000),),
    ),
    WorkerScenario(
        "blocks_scanned",
        "the watcher task over 100,000 empty blocks",
        workers.blocks_scanned,
        targets=(Target("min_throughput", 20_000),),
    ),
    WorkerScenario(
        "trades_settled",
        "trades settled on chain per second on anvil",
        workers.trades_settled,
        targets=(Target("min_throughput", 100),),
    ),
    WorkerScenario(
        "credit_delay",
        "last required confirmation to ledger credit, Celery worker + beat as deployed",
        workers.credit_delay,
        targets=(Target("max_seconds", 2),),
    ),
]
