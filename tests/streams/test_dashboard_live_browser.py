"""The operator dashboard updates live from the streams, in headless Chromium against a
real uvicorn server (PostgreSQL, Redis): a new trade, a deposit credited and the
watcher's lag appear without a reload. The `operator` channel is refused to a connection
without a staff session. Chromium as in tests/exchange/test_operator_dashboard_browser.py
(REQUIRE_BROWSER=1 makes it mandatory)."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connections

from chain.models import WatcherCursor
from exchange.models import Transfer, TransferKind
from exchange.services.deposit_records import deposits_confirm
from exchange.streams.operator import watcher_moved
from tests.exchange.test_operator_dashboard_browser import (  # noqa: F401 (fixtures)
    ARTIFACTS,
    CHROMIUM_FLAGS,
    PASSWORD,
    chromium,
)
from tests.streams.server import Client, uvicorn_server
from tests.streams.test_streams import ETH, bid
from tests.trading import execute, fill

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_only]
BLOCK = "0x" + "b1" * 32
WAIT_MS = 60_000  # a bound only, so that a broken page cannot hang the suite


def in_thread(work) -> None:
    """Django refuses ORM calls while Playwright's event loop runs in this thread."""
    errors = []

    def run():
        try:
            work()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert errors == []


def test_the_dashboard_shows_trades_deposits_and_watcher_lag_as_they_commit(
    chromium,  # noqa: F811
    network,
    market,
    fees,
    maker,
    taker,
    tmp_path,
):
    from playwright.sync_api import expect, sync_playwright

    # The server's own password hashers check it (not the suite's fast ones).
    get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    WatcherCursor.objects.create(network=network, block_number=100)
    order = bid(market, maker)
    deposit = Transfer.objects.create(
        network=network,
        kind=TransferKind.DEPOSIT,
        account="0x" + "5a" * 20,
        token=market.base,
        amount=7 * ETH,
        transaction_hash="0x" + "d1" * 32,
        log_index=0,
        block_number=90,
        block_hash=BLOCK,
    )
    trades = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with uvicorn_server(tmp_path) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{server.url}/admin/login/?next=/admin/dashboard/")
            page.fill("#id_username", "operator")
            page.fill("#id_password", PASSWORD)
            with page.expect_navigation():
                page.click("input[type=submit]")
            live = page.locator(f"#live-{network.id}")
            expect(live.locator(".live-status")).to_have_text("live", timeout=WAIT_MS)
            row = page.locator(f"#market-{market.pk}")
            assert row.locator(".trades-24h").inner_text() == "0"

            in_thread(lambda: trades.extend(execute(network, [fill(taker, order, 1000 * ETH)])))
            in_thread(lambda: deposits_confirm(network=network, confirmed={BLOCK: [deposit.id]}))
            in_thread(lambda: watcher_moved(network_id=network.id, scanned_block=120, head=127))

            expect(row.locator(".trades-24h")).to_have_text("1", timeout=WAIT_MS)
            expect(live.locator(".live-trades li")).to_contain_text(
                f"{market.name} #{trades[0].id}", timeout=WAIT_MS
            )
            expect(live.locator(".live-deposits li")).to_contain_text(
                f"#{deposit.id} {7 * ETH} of {market.base.address} to {deposit.account}",
                timeout=WAIT_MS,
            )
            watcher = page.locator(f"#network-{network.id} .figure.watcher")
            expect(watcher.locator(".value")).to_have_text("7 blocks", timeout=WAIT_MS)
            expect(watcher.locator(".note").first).to_have_text(
                "scanned 120 · head 127", timeout=WAIT_MS
            )
            page.screenshot(path=str(ARTIFACTS / "dashboard-live.png"), full_page=True)
        finally:
            browser.close()


def test_the_operator_channel_is_refused_without_a_staff_session(network, tmp_path):
    with uvicorn_server(tmp_path) as server:
        client = Client(f"{server.ws_url}?networkId={network.id}")
        reply = client.subscribe("operator")
        client.close()
    assert (reply["op"], reply["code"]) == ("error", 100)
    assert reply["validationErrors"][0]["reason"] == "unknown channel operator"
