"""The trades_settled worker scenario: trades settled per second by the real settler on anvil.

    figures = measure_trades_settled(network=network, client=client, accounts=accounts,
                                     count=500, log=print)

Given a Network row (with its ETH Token row) for a running anvil with the exchange
deployed, an ExchangeClient whose operator is the contract's admin, and funded dev
accounts [(address, private_key)], it:
1. deploys a TestToken (anyone can mint it), lists it and an ETH_<token> market;
2. deposits on chain (half the accounts, the makers, the token; the others, the takers,
   Ether) and lets the real watcher credit the ledger, so the contract backs the ledger;
3. places one signed ask per maker and books `count` signed fills through trade_execute
   (each taker fills the makers' orders in turn, a few fills per request);
4. times the settler as the Celery task runs it (trades_settle_run with the settings'
   receipt wait, run after run) until every booked trade is SETTLED;
5. checks the result: every trade SETTLED and `traded` on the contract, and
   reconciliation (contract balances against the ledger) without a difference.

Fees are booked to the contract's feeAccount (FEE_ACCOUNT is overridden to it for the
run). With confirmations > 1, anvil mines nothing by itself (automine): the scenario
mines empty blocks (anvil_mine) when a run only leaves trades waiting for confirmations.
"""

import statistics
import time
from collections.abc import Callable

from django.db.models import Max
from django.test import override_settings
from eth_hash.auto import keccak

from benchmarks.keys import Account, account_of_key
from chain import hashing, rpc_batch
from chain.client import ETHER, ExchangeClient
from chain.reconciliation import reconcile_network
from chain.settler import trades_settle_run
from chain.watcher import deposits_watch_run, required_confirmations
from exchange.models import Market, Network, Order, SettlementStatus, Token, Trade
from exchange.services.orders import order_place
from exchange.services.trades import TradeRequest, trade_execute

ONE = 10**18
TOKEN_FUNDS = 10**7 * ONE  # each maker's deposit of the scenario's token
ETHER_FUNDS = 100 * ONE  # each taker's deposit
FILL = ONE // 100  # Ether per trade
PRICE = 100  # tokens per Ether
FILLS_PER_REQUEST = 10
TIMEOUT_SECONDS_PER_TRADE = 0.5


def measure_trades_settled(
    *,
    network: Network,
    client: ExchangeClient,
    accounts: list[tuple[str, str]],
    count: int,
    log: Callable[[str], None] = print,
) -> dict:
    """Books `count` trades and times the settler until all are SETTLED (module doc)."""
    if len(accounts) < 2:
        raise ValueError("the scenario needs at least two funded accounts")
    traders = [account_of_key(index, key) for index, (_, key) in enumerate(accounts)]
    if [t.address for t in traders] != [address.lower() for address, _ in accounts]:
        raise ValueError("an account's address is not its private key's")
    makers, takers = traders[: len(traders) // 2], traders[len(traders) // 2 :]
    fee_account = rpc_batch.as_address(
        rpc_batch.batch(client, [rpc_batch.fee_account(network.exchange_address, client.head())])[0]
    )
    with override_settings(FEE_ACCOUNT=fee_account):
        eth, token = _market(network, client)
        _fund(network, client, makers=makers, takers=takers, eth=eth, token=token)
        booked_started = time.monotonic()
        trade_ids = _book(network, makers=makers, takers=takers, eth=eth, token=token, count=count)
        booked_seconds = time.monotonic() - booked_started
        log(f"  trades_settled: {count} trades booked in {booked_seconds:.1f} s; settling")
        figures = _settle(network, client, trade_ids)
        figures.update(_check(network, client, trade_ids))
    figures["booked_seconds"] = round(booked_seconds, 2)
    log(
        f"  trades_settled: {figures['throughput']}/s ({count} in {figures['seconds']} s,"
        f" {figures['runs']} runs) p50 {figures['p50_ms']} ms p99 {figures['p99_ms']} ms,"
        f" reconciliation differences {figures['differences']}"
    )
    return figures


def _market(network: Network, client: ExchangeClient) -> tuple[Token, Token]:
    eth = Token.objects.get(network=network, address=ETHER)
    address = client.deploy("TestToken", "Settlement Bench", "SBT", 18)
    token = Token.objects.create(
        network=network, address=address, symbol=f"SBT{address[2:8]}", name="Bench", decimals=18
    )
    # Its tokens carry no gas fee: the scenario measures settlement, not the dust rule.
    Market.objects.create(network=network, base=eth, quote=token, allow_unpaid_settlement=True)
    return eth, token


def _fund(network, client, *, makers, takers, eth, token) -> None:
    exchange = network.exchange_address
    for maker in makers:
        client.transact("TestToken", token.address, "mint", maker.address, TOKEN_FUNDS)
        client.transact(
            "TestToken",
            token.address,
            "approve",
            exchange,
            TOKEN_FUNDS,
            private_key=maker.private_key,
        )
        client.transact(
            "Exchange",
            exchange,
            "depositToken",
            token.address,
            TOKEN_FUNDS,
            private_key=maker.private_key,
        )
    for taker in takers:
        client.transact(
            "Exchange", exchange, "deposit", value=ETHER_FUNDS, private_key=taker.private_key
        )
    confirmations = required_confirmations(network)
    if confirmations > 1:
        client.rpc("anvil_mine", [hex(confirmations - 1)])
    deposits_watch_run(network=network, client=client)


def _book(network, *, makers, takers, eth, token, count: int) -> list[int]:
    orders = [_ask(network, maker, eth=eth, token=token) for maker in makers]
    nonce = time.time_ns() // 1000
    trade_ids: list[int] = []
    while len(trade_ids) < count:
        taker = takers[len(trade_ids) // FILLS_PER_REQUEST % len(takers)]
        fills = []
        for _ in range(min(FILLS_PER_REQUEST, count - len(trade_ids) - len(fills))):
            order = orders[(len(trade_ids) + len(fills)) % len(orders)]
            nonce += 1
            digest = hashing.trade_hash(
                contract=network.exchange_address,
                order_hash=order.hash,
                amount=FILL,
                account=taker.address,
                nonce=nonce,
            )
            fills.append(TradeRequest(order.hash, FILL, taker.address, nonce, taker.sign(digest)))
        trade_ids += [trade.id for trade in trade_execute(network=network, fills=fills)]
    return trade_ids


def _ask(network: Network, maker: Account, *, eth: Token, token: Token) -> Order:
    give, take = TOKEN_FUNDS, TOKEN_FUNDS // PRICE
    nonce = int(keccak(maker.address.encode())[:6].hex(), 16)
    expiry_ms = int(time.time() * 1000) + 86_400_000
    digest = hashing.order_hash(
        contract=network.exchange_address,
        account=maker.address,
        give_token=token.address,
        give_amount=give,
        take_token=eth.address,
        take_amount=take,
        nonce=nonce,
        expiry_ms=expiry_ms,
    )
    return order_place(
        network=network,
        account=maker.address,
        give_token_address=token.address,
        give_amount=give,
        take_token_address=eth.address,
        take_amount=take,
        nonce=nonce,
        expiry_ms=expiry_ms,
        signature=maker.sign(digest),
    )


def _settle(network: Network, client: ExchangeClient, trade_ids: list[int]) -> dict:
    booked = Trade.objects.filter(id__in=trade_ids)
    open_states = [SettlementStatus.UNSETTLED, SettlementStatus.SENT]
    deadline = time.monotonic() + 60 + TIMEOUT_SECONDS_PER_TRADE * len(trade_ids)
    started_wall = time.time()
    started = time.monotonic()
    runs = 0
    while booked.filter(settlement_status__in=open_states).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("trades_settled: the settler did not finish in time")
        result = trades_settle_run(network=network, client=client)
        runs += 1
        if result.halted:
            raise RuntimeError(f"trades_settled: settlement halted (failed {result.failed})")
        if result.mined and not result.settled and not result.waiting:
            client.rpc("anvil_mine", ["0x1"])  # confirmations on an automining anvil
    seconds = time.monotonic() - started
    latencies = sorted(
        (settled_at.timestamp() - started_wall) * 1000
        for settled_at in booked.values_list("settled_at", flat=True)
    )
    return {
        "throughput": round(len(trade_ids) / seconds, 1),
        "count": len(trade_ids),
        "seconds": round(seconds, 2),
        "runs": runs,
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 1),
        "max_gas_used": booked.aggregate(gas=Max("gas_used"))["gas"],
    }


def _check(network: Network, client: ExchangeClient, trade_ids: list[int]) -> dict:
    """Every trade SETTLED and traded on the contract; the contract backs the ledger."""
    trades = list(Trade.objects.filter(id__in=trade_ids).values_list("hash", "settlement_status"))
    head = client.head()
    traded = rpc_batch.batch(
        client, [rpc_batch.traded(network.exchange_address, h, head) for h, _ in trades]
    )
    report = reconcile_network(network=network, client=client)
    return {
        "settled": sum(status == SettlementStatus.SETTLED for _, status in trades),
        "traded_on_chain": sum(rpc_batch.as_bool(answer) for answer in traded),
        "differences": len(report.differences),
    }
