"""CPU per request of an account's deep get_trades page, in process (docs/hot-path.md).

    DATABASE_URL=postgres://... python -m benchmarks.trade_pages [--requests 300]

Needs a migrated database (python manage.py migrate). Seeds, once, network 990001 with
one account in 10,000 trades (half as maker, half as taker, two markets, 18- and
6-decimal tokens), then times `--requests` POST /get_trades {"account": ...} of page 50
(per_page 100) through django.test.Client with time.process_time: the path the view
takes on PostgreSQL (the page rendered by the database) and the ORM path (trade_list and
DRF's renderer), after checking that both answer the same bytes.
"""

import argparse
import os
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import django

NETWORK_ID = 990001
HOT = "0x" + "7e" * 20
TRADES = 10_000


def _seed() -> None:
    from django.db import connection

    from exchange.models import Market, Network, Order, Token, Trade

    if Trade.objects.filter(network_id=NETWORK_ID).exists():
        return
    network = Network.objects.create(id=NETWORK_ID, name="trade pages", confirmations=1)
    eth = Token.objects.create(
        network=network, address="0x" + "00" * 20, symbol="ETH", name="Ether", decimals=18
    )
    tst = Token.objects.create(
        network=network, address="0x" + "11" * 20, symbol="TST", name="Test", decimals=18
    )
    usd = Token.objects.create(
        network=network, address="0x" + "22" * 20, symbol="USD", name="Dollar", decimals=6
    )
    markets = [
        Market.objects.create(network=network, base=eth, quote=tst),
        Market.objects.create(network=network, base=eth, quote=usd),
    ]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    orders = []
    for n in range(200):
        market = markets[n % 2]
        bid = n % 4 < 2
        maker = HOT if n % 2 == 0 else f"0x{n:040x}"
        quote = (1000 + n) * 10**market.quote.decimals
        base = (n + 1) * 10**17
        orders.append(
            Order(
                network=network,
                market=market,
                account=maker,
                give_token=market.base if bid else market.quote,
                give_amount=base if bid else quote,
                take_token=market.quote if bid else market.base,
                take_amount=quote if bid else base,
                nonce=n,
                expiry_ms=0,
                hash=f"0x{n:064x}",
                signature="0x" + "00" * 65,
                side="BID" if bid else "ASK",
                price=Decimal(base) / Decimal(quote),
                filled=0,
                status="FILLED",
            )
        )
    Order.objects.bulk_create(orders)
    trades = []
    for n in range(TRADES):
        order = orders[n % len(orders)]
        taker = f"0x{n % 97 + 1000:040x}" if order.account == HOT else HOT
        trades.append(
            Trade(
                network=network,
                market=order.market,
                order=order,
                maker=order.account,
                taker=taker,
                give_token=order.give_token,
                give_amount=int(order.give_amount) // 50,
                take_token=order.take_token,
                take_amount=int(order.take_amount) // 50,
                hash=f"0x{n:064x}",
                nonce=n,
                signature="0x" + "00" * 65,
                buyer_fee=n * 1000,
                seller_fee=n * 2000,
                gas_fee=n % 3 * 10**15,
                price=order.price,
                quote_amount=1,
                base_amount=1,
                taker_side="sell" if order.side == "BID" else "buy",
                transaction_hash=f"0x{n:064x}" if n % 2 else "",
                created_at=start + timedelta(seconds=n * 37),
            )
        )
    Trade.objects.bulk_create(trades, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE exchange_trade")


def _cpu_ms(client, body: dict, requests: int) -> tuple[float, bytes]:
    for _ in range(20):  # warm: connection, prepared statements, caches
        response = client.post("/get_trades?page=50&per_page=100", body, "application/json")
    assert response.status_code == 200, response.content
    started = time.process_time()
    for _ in range(requests):
        client.post("/get_trades?page=50&per_page=100", body, "application/json")
    return (time.process_time() - started) * 1000 / requests, response.content


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relayer.settings")
    django.setup()
    from django.conf import settings
    from django.test import Client

    from exchange.api.views import trades as trades_view

    # The throttle's counters would refuse a client sending thousands of requests.
    settings.RATELIMIT_EXEMPT_PATHS = [*settings.RATELIMIT_EXEMPT_PATHS, "/get_trades"]
    settings.ALLOWED_HOSTS = ["*"]
    _seed()
    client = Client()
    body = {"account": HOT, "networkId": NETWORK_ID}
    rendered_ms, rendered = _cpu_ms(client, body, args.requests)
    fast = trades_view.trade_page_json
    trades_view.trade_page_json = lambda **kwargs: None
    try:
        orm_ms, orm = _cpu_ms(client, body, args.requests)
    finally:
        trades_view.trade_page_json = fast
    assert rendered == orm, "the two paths answered different bytes"
    print(f"get_trades account page 50 x100 of {TRADES} trades, {args.requests} requests:")
    print(f"  ORM path (trade_list + DRF renderer): {orm_ms:.2f} ms CPU per request")
    print(f"  rendered by PostgreSQL:               {rendered_ms:.2f} ms CPU per request")


if __name__ == "__main__":
    main()
