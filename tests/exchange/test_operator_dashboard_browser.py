"""The operator dashboard in a real browser: Debian's Chromium, headless, driven by
Playwright against the live server. Logs in as an operator, halts a market by clicking,
and checks the database and the page; leaves a screenshot in var/test-artifacts/.

Chromium comes from `.ci/ensure-chromium` (run by `make test`; installs it with
apt-get as root). Playwright only drives that binary: it never downloads a browser.
The test skips when the binary is missing, unless REQUIRE_BROWSER=1 (set by .ci/run),
where it fails instead.
"""

import json
import os
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from chain.models import ReconciliationRun, WatcherCursor
from exchange.models import Market, MarketStatus, Network, Transfer, TransferKind, TransferStatus
from exchange.services.deposits import deposit_credit
from exchange.services.trade_settlement import settlement_halt
from tests.factories import MarketFactory, NetworkFactory, TokenFactory

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"
PASSWORD = "correct horse battery staple"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def chromium() -> str:
    if os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    reason = (
        f"Chromium is not installed at {CHROMIUM} and could not be installed here "
        "(.ci/ensure-chromium needs root and apt-get: see its output)"
    )
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(reason + "; REQUIRE_BROWSER=1 forbids skipping")
    pytest.skip(reason)


@pytest.fixture
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture
def exchange_state(fast_password_hashing):
    """Two networks with a little of everything the dashboard shows."""
    get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    main = NetworkFactory(id=31337, name="Local", rpc_url=_closed_port_url(), confirmations=2)
    second = NetworkFactory(id=11155111, name="Sepolia", rpc_url="", confirmations=12)
    eth = TokenFactory(network=main, ether=True)
    tst = TokenFactory(network=main, symbol="TST", name="Test Token", decimals=18)
    usdc = TokenFactory(network=main, symbol="USDC", name="USD Coin", decimals=6)
    market = MarketFactory(network=main, base=eth, quote=tst)
    MarketFactory(network=main, base=eth, quote=usdc, status=MarketStatus.CANCEL_ONLY)
    MarketFactory(
        network=second,
        base=TokenFactory(network=second, ether=True),
        quote=TokenFactory(network=second, symbol="DAI", decimals=18),
    )
    WatcherCursor.objects.create(network=main, block_number=1204)
    account = "0x" + "5a" * 20
    deposit_credit(token=usdc, account=account, amount=900_000_000, reference="deposit:1")
    for status, age in ((TransferStatus.FAILED, 0), (TransferStatus.PENDING, 2)):
        withdrawal = Transfer.objects.create(
            network=main,
            kind=TransferKind.WITHDRAWAL,
            account=account,
            token=usdc,
            amount=125_500_000,
            status=status,
            error="reverted in 0x9f3c…" if status == TransferStatus.FAILED else "",
        )
        Transfer.objects.filter(pk=withdrawal.pk).update(
            created_at=timezone.now() - timedelta(hours=age)
        )
    settlement_halt(network_id=second.id, reason="trade 41: refused by the contract (nonce used)")
    ReconciliationRun.objects.create(
        network=main, ok=True, balances_checked=42, finished_at=timezone.now()
    )
    ReconciliationRun.objects.create(
        network=second, ok=False, balances_checked=7, differences=json.dumps([{"check": "x"}])
    )
    return market


def test_an_operator_halts_a_market_by_clicking(chromium, live_server, exchange_state):
    from playwright.sync_api import sync_playwright

    market = exchange_state
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # Django refuses ORM calls while Playwright's event loop runs in this thread, so the
    # database is read before and after the browser session, never inside it.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{live_server.url}/admin/login/?next=/admin/dashboard/")
            page.fill("#id_username", "operator")
            page.fill("#id_password", PASSWORD)
            with page.expect_navigation():
                page.click("input[type=submit]")
            assert page.url.endswith("/admin/dashboard/")
            row = page.locator(f"#market-{market.pk}")
            assert row.locator(".status").inner_text().strip() == "Trading"
            page.screenshot(path=str(ARTIFACTS / "dashboard-before.png"), full_page=True)
            with page.expect_navigation():
                row.get_by_role("button", name="Set halted").click()
            row = page.locator(f"#market-{market.pk}")
            status_on_page = row.locator(".status").inner_text().strip()
            message = page.locator("ul.messagelist").inner_text()
            page_text = page.locator("#content-main").inner_text()
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            page.goto(f"{live_server.url}/admin/exchange/transfer/")
            transfers_text = page.locator("#result_list").inner_text()
            page.screenshot(path=str(ARTIFACTS / "transfers.png"), full_page=True)
        finally:
            browser.close()
    assert status_on_page == "Halted"
    assert "ETH_TST is now Halted" in message
    assert "node unreachable" in page_text and "settlement HALTED" in page_text
    assert "125500000" in transfers_text and "125.5 USDC" in transfers_text
    assert Market.objects.get(pk=market.pk).status == MarketStatus.HALTED
    assert Network.objects.get(pk=31337).order_submission_enabled  # nothing else moved
