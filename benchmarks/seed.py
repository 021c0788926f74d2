"""Seeds the benchmark database at scale with COPY and INSERT ... SELECT generate_series.

What it makes (at --scale 1):
- one network (id 1, the default networkId), Ether and ten 18-decimal tokens, ten
  ETH_* markets and a fee schedule (the history and the book are in the first five);
- 10,000 accounts funded in every token: a DEPOSIT ledger entry per balance, then a
  HOLD entry per open order, so every balance equals the sum of its entries;
- 100,000 open orders in ETH_TKA (the book; real hashes and signatures) and a few
  hundred large asks in ETH_TKC that the create_trades scenarios fill, and twenty in
  each of the ten markets that create_trades_markets fills;
- 1,000,000 settled trades over the last 30 days across the five markets, filling
  100,000 FILLED orders; one account (the "hot" one) is the taker of 1% of them;
- the candles of every period for those trades, as trade_execute would keep them.

Historical trades are seeded as settled history: their balance legs are not in the
ledger (the accounts' deposits are). Everything is deterministic for a given scale.
"""

import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction

from benchmarks.keys import Account, accounts
from exchange.models import FeeSchedule, Market, Network, Order, Token
from exchange.models.market_data import CANDLE_PERIODS
from exchange.protocol.hashing import order_hash

BASE_PERIOD = 300

NETWORK_ID = 1
CONTRACT = "0x" + "be" * 20
ETHER = "0x" + "00" * 20
TOKEN_SYMBOLS = ["TKA", "TKB", "TKC", "TKD", "TKE", "TKF", "TKG", "TKH", "TKI", "TKJ"]
ONE = 10**18
FUNDING = 10**30  # per account and token: 10^12 whole tokens
FILL_ORDER_GIVE = 10**24  # what each fill-target ask gives, in TKC
FILL_ORDER_TAKE = 10**21  # and takes, in ETH: price 0.001
FILL_ORDERS = 200
MARKET_FILL_ORDERS = 20  # per market, in each of the ten (create_trades_markets)
TRADES_PER_FILLED_ORDER = 10
HOT_TRADE_EVERY = 100  # the hot account takes every 100th trade: 10k of 1M

# Full-scale sizes; --scale multiplies each.
FULL_ACCOUNTS = 10_000
FULL_BOOK_ORDERS = 100_000
FULL_TRADES = 1_000_000


@dataclass
class Seeded:
    """What the scenarios need to know about the seeded data."""

    scale: float
    contract: str
    accounts: list[Account]
    markets: dict[str, int]  # name -> id
    tokens: dict[str, str]  # symbol -> address
    book_orders: int
    trades: int
    hot_account: str
    hot_trades: int
    fill_orders: list[dict] = field(default_factory=list)  # hash, maker index
    # The asks of create_trades_markets, market by market (hash, maker index).
    market_fill_orders: list[list[dict]] = field(default_factory=list)
    balance_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def makers(self) -> set[int]:
        return {order["maker"] for order in self.fill_orders}


def sizes(scale: float) -> tuple[int, int, int]:
    n_accounts = max(FILL_ORDERS + 20, round(FULL_ACCOUNTS * scale))
    n_book = max(200, round(FULL_BOOK_ORDERS * scale))
    n_trades = max(1_000, round(FULL_TRADES * scale))
    return n_accounts, n_book, n_trades


def seed(*, scale: float, log=print, vacuum: bool = True) -> Seeded:
    started = time.monotonic()
    n_accounts, n_book, n_trades = sizes(scale)
    log(f"seeding: {n_accounts} accounts, {n_book} open orders, {n_trades} trades")
    people = accounts(n_accounts)
    step = _stepper(log)
    with transaction.atomic():
        _truncate()
        markets, tokens = _reference_data()
        # The rows are consistent by construction: skip the per-row foreign key triggers.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
        _accounts_table(people)
        _balances(tokens)
        step("accounts and balances")
        fill_orders = _open_orders(people, markets, tokens, n_book)
        market_fill_orders = _market_fill_orders(people, markets, tokens)
        step("open orders")
        with _indexes_rebuilt_after(["exchange_order", "exchange_trade", "exchange_ledgerentry"]):
            _history(markets, n_trades, n_accounts, step)
            _ledger_and_holds()
            step("ledger and holds")
        step("indexes rebuilt")
        _candles(step)
    if vacuum:  # not inside a transaction (tests)
        with connection.cursor() as cursor:
            # What autovacuum would have done by the time a real book had grown this big:
            # fresh statistics, and a visibility map that allows index-only scans.
            cursor.execute("VACUUM ANALYZE")
        step("vacuum analyze")
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM exchange_balance ORDER BY id LIMIT 1000")
        balance_ids = [row[0] for row in cursor.fetchall()]
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_seed")
        cursor.execute("CREATE TABLE bench_seed (scale double precision, seconds double precision)")
        cursor.execute(
            "INSERT INTO bench_seed VALUES (%s, %s)", [scale, time.monotonic() - started]
        )
    hot = people[n_accounts - 1]
    seeded = Seeded(
        scale=scale,
        contract=CONTRACT,
        accounts=people,
        markets=markets,
        tokens=tokens,
        book_orders=n_book,
        trades=n_trades,
        hot_account=hot.address,
        hot_trades=n_trades // HOT_TRADE_EVERY,
        fill_orders=fill_orders,
        market_fill_orders=market_fill_orders,
        balance_ids=balance_ids,
    )
    seeded.seconds = time.monotonic() - started
    log(f"seeded in {seeded.seconds:.1f} s")
    return seeded


def reuse(*, scale: float) -> Seeded | None:
    """The data an earlier seed(scale=scale) left, or None if there is none.

    Earlier runs' writes stay (orders placed in ETH_TKB, fills of the ETH_TKC asks, each
    a millionth of an order): the scenarios do not depend on them.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_seed') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return None
        cursor.execute("SELECT scale FROM bench_seed")
        row = cursor.fetchone()
        if row is None or row[0] != scale:
            return None
        cursor.execute("SELECT id FROM exchange_balance ORDER BY id LIMIT 1000")
        balance_ids = [row[0] for row in cursor.fetchall()]
    n_accounts, n_book, n_trades = sizes(scale)
    people = accounts(n_accounts)
    tokens = dict(Token.objects.values_list("symbol", "address"))
    markets = {market.name: market.id for market in Market.objects.select_related("base", "quote")}
    fill_hashes = (
        Order.objects.filter(market_id=markets["ETH_TKC"], status="OPEN")
        .order_by("id")
        .values_list("hash", flat=True)[:FILL_ORDERS]
    )
    if len(markets) != len(TOKEN_SYMBOLS):
        return None  # seeded before the ten markets
    return Seeded(
        scale=scale,
        contract=CONTRACT,
        accounts=people,
        markets=markets,
        tokens=tokens,
        book_orders=n_book,
        trades=n_trades,
        hot_account=people[n_accounts - 1].address,
        hot_trades=n_trades // HOT_TRADE_EVERY,
        fill_orders=[{"hash": h, "maker": i} for i, h in enumerate(fill_hashes)],
        market_fill_orders=_market_fill_hashes(markets),
        balance_ids=balance_ids,
    )


def _market_fill_hashes(markets: dict[str, int]) -> list[list[dict]]:
    """The create_trades_markets asks an earlier seed placed (the last ones of each market)."""
    found: list[list[dict]] = []
    for name in sorted(markets):
        hashes = (
            Order.objects.filter(market_id=markets[name], status="OPEN", nonce__gte=MARKET_NONCE)
            .order_by("id")
            .values_list("hash", flat=True)[:MARKET_FILL_ORDERS]
        )
        first = len(found) * MARKET_FILL_ORDERS
        found.append([{"hash": h, "maker": first + i} for i, h in enumerate(hashes)])
    return found


def _stepper(log):
    last = [time.monotonic()]

    def step(name: str) -> None:
        now = time.monotonic()
        log(f"  {name}: {now - last[0]:.1f} s")
        last[0] = now

    return step


@contextmanager
def _indexes_rebuilt_after(tables: list[str]):
    """Drops the tables' secondary indexes and unique constraints, then rebuilds them:
    one sort per index instead of a million random B-tree inserts."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
            FROM pg_constraint c
            WHERE c.contype = 'u' AND c.conrelid::regclass::text = ANY(%s)
            """,
            [tables],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            WHERE i.indrelid::regclass::text = ANY(%s) AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            """,
            [tables],
        )
        indexes = cursor.fetchall()
        for table, name, _ in constraints:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {name}")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for table, name, definition in constraints:
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for _, definition in indexes:
            cursor.execute(definition)


def _truncate() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE exchange_network, exchange_token, exchange_market, exchange_feeschedule,"
            " exchange_balance, exchange_ledgerentry, exchange_order, exchange_trade,"
            " exchange_candle"
            " RESTART IDENTITY CASCADE"
        )
        cursor.execute("DROP TABLE IF EXISTS bench_account")


def _reference_data() -> tuple[dict[str, int], dict[str, str]]:
    network = Network.objects.create(
        id=NETWORK_ID, name="Benchmark", exchange_address=CONTRACT, confirmations=12
    )
    ether = Token.objects.create(
        network=network, address=ETHER, symbol="ETH", name="Ether", decimals=18
    )
    tokens = {"ETH": ETHER}
    markets = {}
    for i, symbol in enumerate(TOKEN_SYMBOLS):
        address = "0x" + f"{0xA1 + i:02x}" * 20
        token = Token.objects.create(
            network=network, address=address, symbol=symbol, name=f"Token {symbol}", decimals=18
        )
        tokens[symbol] = address
        # No gas fee on the seeded tokens: the load measures throughput, not the dust rule.
        markets[f"ETH_{symbol}"] = Market.objects.create(
            network=network, base=ether, quote=token, allow_unpaid_settlement=True
        ).id
    FeeSchedule.objects.create(
        network=network,
        maker_fee=Decimal("0.001"),
        taker_fee=Decimal("0.002"),
        effective_at=datetime.now(UTC) - timedelta(days=365),
    )
    return markets, tokens


def _copy(table: str, columns: list[str], rows) -> None:
    raw = connection.connection  # the psycopg connection under Django's
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _accounts_table(people: list[Account]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_account (idx integer PRIMARY KEY, address varchar(42))")
    _copy("bench_account", ["idx", "address"], ((a.index, a.address) for a in people))


def _balances(tokens: dict[str, str]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO exchange_balance (network_id, account, token_id, total, held, updated_at)
            SELECT %s, a.address, t.id, %s, 0, now()
            FROM bench_account a CROSS JOIN exchange_token t
            ORDER BY a.idx, t.id
            """,
            [NETWORK_ID, FUNDING],
        )


def _order_row(
    *,
    maker: Account,
    market_id: int,
    give: tuple[int, int],
    take: tuple[int, int],
    token_addresses: dict[int, str],
    side: str,
    price: Decimal,
    nonce: int,
    expiry_ms: int,
    created_at: datetime,
):
    (give_token, give_amount), (take_token, take_amount) = give, take
    digest = order_hash(
        contract=CONTRACT,
        account=maker.address,
        give_token=token_addresses[give_token],
        give_amount=give_amount,
        take_token=token_addresses[take_token],
        take_amount=take_amount,
        nonce=nonce,
        expiry_ms=expiry_ms,
    )
    return (
        NETWORK_ID,
        market_id,
        maker.address,
        give_token,
        give_amount,
        take_token,
        take_amount,
        nonce,
        expiry_ms,
        digest,
        maker.sign(digest),
        side,
        price,
        0,
        "OPEN",
        created_at,
        created_at,
    )


ORDER_COLUMNS = [
    "network_id",
    "market_id",
    "account",
    "give_token_id",
    "give_amount",
    "take_token_id",
    "take_amount",
    "nonce",
    "expiry_ms",
    "hash",
    "signature",
    "side",
    "price",
    "filled",
    "status",
    "created_at",
    "updated_at",
]


def _open_orders(
    people: list[Account], markets: dict[str, int], tokens: dict[str, str], n_book: int
) -> list[dict]:
    """The book of ETH_TKA (bids 0.0009-0.001, asks 0.001-0.0011) and the fill targets."""
    token_ids = dict(Token.objects.values_list("address", "id"))
    addresses = {token_id: address for address, token_id in token_ids.items()}
    eth, tka, tkc = token_ids[ETHER], token_ids[tokens["TKA"]], token_ids[tokens["TKC"]]
    now = datetime.now(UTC)
    now_ms = int(now.timestamp() * 1000)
    expiry_ms = now_ms + 365 * 86_400_000
    rng = random.Random(8)
    # The hot account (the last) places none, so its balances stay unheld.
    makers = people[: len(people) - 1]
    rows = []
    for i in range(n_book):
        maker = makers[i % len(makers)]
        quantity = (1 + i % 10) * ONE  # TKA
        step = rng.randrange(100_000)
        if i % 2 == 0:
            price_units = 1_000_000_000 - step  # 1e-12 ETH per TKA
            give, take, side = (eth, quantity * price_units // 10**12), (tka, quantity), "BID"
        else:
            price_units = 1_000_000_001 + step
            give, take, side = (tka, quantity), (eth, quantity * price_units // 10**12), "ASK"
        rows.append(
            _order_row(
                maker=maker,
                market_id=markets["ETH_TKA"],
                give=give,
                take=take,
                token_addresses=addresses,
                side=side,
                price=Decimal(price_units) / 10**12,
                nonce=now_ms - n_book + i,
                expiry_ms=expiry_ms,
                created_at=now - timedelta(seconds=n_book - i),
            )
        )
    fill_orders = []
    for i in range(FILL_ORDERS):
        maker = people[i]
        row = _order_row(
            maker=maker,
            market_id=markets["ETH_TKC"],
            give=(tkc, FILL_ORDER_GIVE),
            take=(eth, FILL_ORDER_TAKE),
            token_addresses=addresses,
            side="ASK",
            price=Decimal(FILL_ORDER_TAKE) / FILL_ORDER_GIVE,
            nonce=now_ms + i,
            expiry_ms=expiry_ms,
            created_at=now,
        )
        rows.append(row)
        fill_orders.append({"hash": row[9], "maker": i})
    _copy("exchange_order", ORDER_COLUMNS, rows)
    return fill_orders


MARKET_NONCE = 10**15  # the create_trades_markets asks' nonces start here (past any ms clock)


def _market_fill_orders(
    people: list[Account], markets: dict[str, int], tokens: dict[str, str]
) -> list[list[dict]]:
    """MARKET_FILL_ORDERS large asks in each market, as the ETH_TKC fill targets are:
    create_trades_markets fills them, ten markets at once. Each market has makers of
    its own (people[20 m .. 20 m + 19], the ETH_TKC makers' range), so fills of
    different markets share no balance row and can run in parallel."""
    token_ids = dict(Token.objects.values_list("address", "id"))
    addresses = {token_id: address for address, token_id in token_ids.items()}
    eth = token_ids[ETHER]
    now = datetime.now(UTC)
    expiry_ms = int(now.timestamp() * 1000) + 365 * 86_400_000
    rows, found = [], []
    for m, symbol in enumerate(TOKEN_SYMBOLS):
        market_orders = []
        for i in range(MARKET_FILL_ORDERS):
            maker = m * MARKET_FILL_ORDERS + i
            row = _order_row(
                maker=people[maker],
                market_id=markets[f"ETH_{symbol}"],
                give=(token_ids[tokens[symbol]], FILL_ORDER_GIVE),
                take=(eth, FILL_ORDER_TAKE),
                token_addresses=addresses,
                side="ASK",
                price=Decimal(FILL_ORDER_TAKE) / FILL_ORDER_GIVE,
                nonce=MARKET_NONCE + m * MARKET_FILL_ORDERS + i,
                expiry_ms=expiry_ms,
                created_at=now,
            )
            rows.append(row)
            market_orders.append({"hash": row[9], "maker": maker})
        found.append(market_orders)
    _copy("exchange_order", ORDER_COLUMNS, rows)
    return found


def _history(markets: dict[str, int], n_trades: int, n_accounts: int, step) -> None:
    """FILLED orders and their settled trades, spread over the last 30 days."""
    n_orders = max(1, n_trades // TRADES_PER_FILLED_ORDER)
    hot = n_accounts - 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM exchange_order")
        first_id = cursor.fetchone()[0] + 1
        cursor.execute(
            "CREATE TEMP TABLE bench_market AS SELECT row_number() OVER (ORDER BY id) - 1 AS idx,"
            " id, base_id, quote_id FROM exchange_market"
        )
        # Half bids, half asks; price 0.0005-0.0015 ETH per token; 1-100 tokens each.
        cursor.execute(
            """
            INSERT INTO exchange_order (network_id, market_id, account, give_token_id, give_amount,
                take_token_id, take_amount, nonce, expiry_ms, hash, signature, side, price,
                filled, status, created_at, updated_at)
            SELECT %(network)s, m.id, a.address,
                CASE WHEN g %% 2 = 0 THEN m.base_id ELSE m.quote_id END,
                CASE WHEN g %% 2 = 0 THEN q * p ELSE q * 1000000 END,
                CASE WHEN g %% 2 = 0 THEN m.quote_id ELSE m.base_id END,
                CASE WHEN g %% 2 = 0 THEN q * 1000000 ELSE q * p END,
                g, 0, '0x' || md5('order' || g) || md5('hash' || g), '0x' || repeat('00', 65),
                CASE WHEN g %% 2 = 0 THEN 'BID' ELSE 'ASK' END,
                p / 1000000.0,
                CASE WHEN g %% 2 = 0 THEN q * 1000000 ELSE q * p END,
                'FILLED', ts, ts
            FROM (
                SELECT g, (1 + g %% 100) * 1000000000000::numeric AS q,
                    (500 + (g * 7919) %% 1000)::numeric AS p,
                    now() - interval '30 days' + (g::float / %(n)s) * interval '30 days' AS ts
                FROM generate_series(1, %(n)s) AS g
            ) AS s
            JOIN bench_market m ON m.idx = s.g %% 5
            JOIN bench_account a ON a.idx = s.g %% %(makers)s
            """,
            {"network": NETWORK_ID, "n": n_orders, "makers": n_accounts - 1},
        )
        step("filled orders")
        # Each filled order has TRADES_PER_FILLED_ORDER equal trades; takers never the maker.
        cursor.execute(
            """
            INSERT INTO exchange_trade (uuid, network_id, market_id, order_id, maker, taker,
                give_token_id, give_amount, take_token_id, take_amount, hash, nonce, signature,
                buyer_fee, seller_fee, maker_fee, taker_fee, gas_fee, price, quote_amount,
                base_amount, taker_side, settlement_status, transaction_hash, settlement_error,
                created_at)
            SELECT gen_random_uuid(), %(network)s, o.market_id, o.id, o.account,
                CASE WHEN t %% %(every)s = 0 THEN hot.address ELSE tk.address END,
                o.give_token_id, o.give_amount / %(per)s, o.take_token_id, o.take_amount / %(per)s,
                '0x' || md5('trade' || t) || md5('hash' || t), t, '0x' || repeat('00', 65),
                0, 0, 0, 0, 0, o.price,
                CASE WHEN o.side = 'ASK' THEN o.give_amount ELSE o.take_amount END / %(per)s,
                CASE WHEN o.side = 'ASK' THEN o.take_amount ELSE o.give_amount END / %(per)s,
                CASE WHEN o.side = 'ASK' THEN 'buy' ELSE 'sell' END,
                'SETTLED', '0x' || md5('tx' || t) || md5('hash' || t), '',
                o.created_at + (t %% %(per)s) * interval '1 second'
            FROM generate_series(0, %(n)s - 1) AS t
            JOIN exchange_order o ON o.id = %(first)s + t / %(per)s
            JOIN bench_account hot ON hot.idx = %(hot)s
            JOIN bench_account tk ON tk.idx = (t / %(per)s + 2 + t %% %(per)s) %% %(makers)s
            WHERE tk.address <> o.account
            """,
            {
                "network": NETWORK_ID,
                "n": n_orders * TRADES_PER_FILLED_ORDER,
                "per": TRADES_PER_FILLED_ORDER,
                "every": HOT_TRADE_EVERY,
                "first": first_id,
                "hot": hot,
                "makers": n_accounts - 1,
            },
        )
        step("trades")


def _ledger_and_holds() -> None:
    """A DEPOSIT entry per balance, a HOLD entry per open order, and held = the holds."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO exchange_ledgerentry (balance_id, kind, total_delta, held_delta,
                total_after, held_after, reference, created_at)
            SELECT id, 'DEPOSIT', total, 0, total, 0, 'benchmark-seed',
                now() - interval '31 days'
            FROM exchange_balance ORDER BY id
            """
        )
        cursor.execute(
            """
            INSERT INTO exchange_ledgerentry (balance_id, kind, total_delta, held_delta,
                total_after, held_after, reference, created_at)
            SELECT b.id, 'HOLD', 0, o.give_amount, b.total,
                sum(o.give_amount) OVER (PARTITION BY b.id ORDER BY o.id), o.hash, o.created_at
            FROM exchange_order o
            JOIN exchange_balance b ON b.account = o.account AND b.token_id = o.give_token_id
            WHERE o.status = 'OPEN'
            ORDER BY o.id
            """
        )
        cursor.execute(
            """
            UPDATE exchange_balance b SET held = s.held
            FROM (SELECT account, give_token_id, sum(give_amount) AS held
                  FROM exchange_order WHERE status = 'OPEN' GROUP BY 1, 2) AS s
            WHERE b.account = s.account AND b.token_id = s.give_token_id
            """
        )


def _candles(step) -> None:
    """The Candle rows trade_execute would have kept for the seeded trades: 5-minute
    candles from the trades, every longer period rolled up from those."""
    periods = [period for period in CANDLE_PERIODS if period != BASE_PERIOD]
    assert all(period % BASE_PERIOD == 0 for period in periods)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO exchange_candle (market_id, period, bucket_start, open, high, low, close,
                base_volume, quote_volume, trade_count, first_trade_id, last_trade_id)
            SELECT market_id, %(period)s, s - s %% %(period)s,
                (array_agg(price ORDER BY id))[1], max(price), min(price),
                (array_agg(price ORDER BY id DESC))[1], sum(base_amount), sum(quote_amount),
                count(*), min(id), max(id)
            FROM (SELECT *, floor(extract(epoch FROM created_at))::bigint AS s
                  FROM exchange_trade) AS t
            GROUP BY market_id, s - s %% %(period)s
            """,
            {"period": BASE_PERIOD},
        )
        cursor.execute(
            """
            INSERT INTO exchange_candle (market_id, period, bucket_start, open, high, low, close,
                base_volume, quote_volume, trade_count, first_trade_id, last_trade_id)
            SELECT c.market_id, p.period, c.bucket_start - c.bucket_start %% p.period,
                (array_agg(c.open ORDER BY c.first_trade_id))[1], max(c.high), min(c.low),
                (array_agg(c.close ORDER BY c.last_trade_id DESC))[1], sum(c.base_volume),
                sum(c.quote_volume), sum(c.trade_count), min(c.first_trade_id),
                max(c.last_trade_id)
            FROM exchange_candle c CROSS JOIN unnest(%(periods)s::integer[]) AS p(period)
            WHERE c.period = %(base)s
            GROUP BY c.market_id, p.period, c.bucket_start - c.bucket_start %% p.period
            """,
            {"periods": periods, "base": BASE_PERIOD},
        )
    step("candles")
