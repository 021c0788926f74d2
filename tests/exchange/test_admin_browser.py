"""The admin's lists in a real browser (Debian's Chromium, as the dashboard's browser
test): at 1400 px no list is wider than the window, prices read in human units, and the
dashboard draws its charts. Screenshots go to var/test-artifacts/ (admin-*.png,
dashboard-charts.png); with UPDATE_DOCS_SCREENSHOTS=1 the manual's are taken again too
(docs/images/dashboard.png, docs/images/admin-orders.png: docs/operating.md)."""

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from exchange.models import SettlementStatus, Trade, Transfer, TransferStatus
from tests.exchange.test_operator_dashboard_browser import (
    ARTIFACTS,
    CHROMIUM_FLAGS,
    PASSWORD,
    chromium,  # noqa: F401 (a fixture)
    fast_password_hashing,  # noqa: F401 (a fixture)
)
from tests.factories import DepositFactory
from tests.trading import execute, fill, place

pytestmark = pytest.mark.django_db(transaction=True)
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
UPDATE_DOCS = os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1"
LISTS = [
    "exchange/order",
    "exchange/trade",
    "exchange/balance",
    "exchange/ledgerentry",
    "exchange/transfer",
    "exchange/token",
    "exchange/market",
    "exchange/network",
    "exchange/feeschedule",
]


@pytest.fixture
def traded(fast_password_hashing, network, market, fees, maker, taker, ether):  # noqa: F811
    get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    order = place(
        maker,
        give_token=market.base,
        give_amount=10**16,
        take_token=market.quote,
        take_amount=20 * 10**18,
    )
    [trade] = execute(network, [fill(taker, order, 5 * 10**18)])
    # What makes a row wide: a long refusal, a transaction hash, a long withdrawal error.
    Trade.objects.filter(pk=trade.pk).update(
        settlement_status=SettlementStatus.FAILED,
        settlement_error="Exchange: maker balance too low " * 6,
        transaction_hash="0x" + "ab" * 32,
    )
    DepositFactory(network=network, token=ether)
    # A credited deposit, 45 s from its sighting to its credit: the credit delay chart.
    credited = DepositFactory(network=network, token=ether)
    seen = timezone.now() - timedelta(minutes=2)
    Transfer.objects.filter(pk=credited.pk).update(
        status=TransferStatus.COMPLETE, created_at=seen, updated_at=seen + timedelta(seconds=45)
    )
    return order


def test_admin_lists_fit_1400_px_with_human_prices_and_the_dashboard_charts(
    chromium,  # noqa: F811
    live_server,
    traded,
):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    widths, order_list, charts = {}, "", 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{live_server.url}/admin/login/?next=/admin/")
            page.fill("#id_username", "operator")
            page.fill("#id_password", PASSWORD)
            with page.expect_navigation():
                page.click("input[type=submit]")
            for path in LISTS:
                page.goto(f"{live_server.url}/admin/{path}/")
                # The page, and the list's own box (the admin scrolls a wide table inside it).
                widths[path] = page.evaluate(
                    "Math.max(document.documentElement.scrollWidth,"
                    " (document.querySelector('.results') || {scrollWidth: 0}).scrollWidth"
                    " - (document.querySelector('.results') || {clientWidth: 0}).clientWidth"
                    " + window.innerWidth)"
                )
                name = path.split("/")[1]
                page.screenshot(path=str(ARTIFACTS / f"admin-{name}.png"), full_page=True)
                if name == "order":
                    order_list = page.locator("#result_list").inner_text()
                    if UPDATE_DOCS:
                        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
                        page.screenshot(path=str(DOCS_IMAGES / "admin-orders.png"))
            page.goto(f"{live_server.url}/admin/dashboard/")
            charts = page.locator("svg.chart").count()
            page.locator("#charts").scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "dashboard-charts.png"), full_page=True)
            if UPDATE_DOCS:
                page.screenshot(path=str(DOCS_IMAGES / "dashboard.png"), full_page=True)
        finally:
            browser.close()
    assert {path: width for path, width in widths.items() if width > 1400} == {}
    assert "0.0005" in order_list and "0.00050000" not in order_list
    assert charts == 4  # transfers, settlement backlog, deposit credit delay, ETH_TST
