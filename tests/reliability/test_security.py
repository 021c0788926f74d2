"""Security: replayed signatures of every kind are refused and change nothing; a
signature bound to one network's contract is refused on another; every admin page and
operator action needs staff rights and a CSRF token; no secret (the operator's key, an
API key) reaches a log line or a response body."""

import contextlib
import logging
import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from exchange.models import Market, Network, Order, Trade, Transfer
from exchange.protocol import hashing
from exchange.services.api_keys import api_key_issue
from tests.factories import MarketFactory, NetworkFactory, TokenFactory
from tests.reliability.seed import CONTRACT, seed_exchange
from tests.signing import (
    address_of,
    sign_hash,
    signed_cancel,
    signed_order,
    signed_withdrawal,
)
from tests.trading import fill_payload, snapshot

pytestmark = pytest.mark.django_db

NETWORK = 31337


@pytest.fixture
def seeded(settings):
    return seed_exchange(settings)


def post(api, path: str, body, network_id: int = NETWORK):
    return api.post(f"{path}?networkId={network_id}", body, format="json")


def assert_refused(response, field: str, code: int) -> None:
    assert response.status_code == 400, response.content
    errors = response.json()["validationErrors"]
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in errors
    ], errors


def withdrawal(signer, token, amount: int, contract: str = CONTRACT) -> dict:
    return signed_withdrawal(signer, contract=contract, token=token, amount=amount)


# --- replays --------------------------------------------------------------------------


def _order(seeded, signer, contract: str = CONTRACT) -> dict:
    return signed_order(
        signer,
        contract=contract,
        give_token=seeded.tst,
        give_amount=10**18,
        take_token=seeded.eth,
        take_amount=10**16,
    )


def test_a_replayed_order_is_refused_and_holds_nothing_more(api, seeded):
    payload = _order(seeded, seeded.accounts[2])
    assert post(api, "/create_orders", payload).status_code == 201
    before = snapshot()
    assert_refused(post(api, "/create_orders", payload), "orderHash", 1005)
    assert snapshot() == before


def test_a_replayed_cancel_is_refused_and_releases_nothing_more(api, seeded):
    signer = seeded.accounts[2]
    payload = _order(seeded, signer)
    assert post(api, "/create_orders", payload).status_code == 201
    cancel = signed_cancel(signer, order_hash=payload["orderHash"])
    assert post(api, "/delete_orders", cancel).json() == {"success": "0"}
    before = snapshot()
    replay = post(api, "/delete_orders", cancel)
    assert replay.status_code == 400 and replay.json()["code"] == 100
    assert snapshot() == before


def test_a_replayed_trade_is_refused_and_moves_nothing(api, seeded):
    maker, taker = seeded.accounts[0], seeded.accounts[2]
    order = Order.objects.filter(account=address_of(maker), status="OPEN").first()
    item = fill_payload(taker, order, 10**15)
    assert post(api, "/create_trades", [item]).status_code == 201
    before = snapshot()
    assert_refused(post(api, "/create_trades", [item]), "[0].nonce", 1005)
    assert_refused(post(api, "/create_trades", item), "nonce", 1005)
    assert snapshot() == before
    assert Trade.objects.filter(taker=address_of(taker)).count() == 1


def test_a_replayed_withdrawal_is_refused_and_holds_nothing_more(api, seeded):
    payload = withdrawal(seeded.accounts[2], seeded.eth, 10**17)
    assert post(api, "/create_transfers", payload).json() == {"success": "0"}
    before = snapshot()
    assert_refused(post(api, "/create_transfers", payload), "signature", 1005)
    assert snapshot() == before
    assert Transfer.objects.filter(account=address_of(seeded.accounts[2])).count() == 1


# --- one network's signature on another -----------------------------------------------


@pytest.fixture
def other_network(seeded):
    """A second network whose contract is elsewhere, with the same token addresses."""
    other = NetworkFactory(id=5, name="Other", exchange_address="0x" + "ef" * 20)
    eth = TokenFactory(network=other, ether=True)
    tst = TokenFactory(network=other, address=seeded.tst.address, symbol="TST")
    MarketFactory(network=other, base=eth, quote=tst)
    return other


def test_an_order_signed_for_one_networks_contract_is_refused_on_another(
    api, seeded, other_network, fund
):
    signer = seeded.accounts[2]
    tst = other_network_token(other_network, "TST")
    fund(signer, tst, 10**24)
    payload = _order(seeded, signer)  # bound to the first network's contract
    before = snapshot()
    assert_refused(post(api, "/create_orders", payload, other_network.id), "orderHash", 1005)
    without_hash = {k: v for k, v in payload.items() if k != "orderHash"}
    assert_refused(post(api, "/create_orders", without_hash, other_network.id), "signature", 1005)
    assert snapshot() == before


def other_network_token(network: Network, symbol: str):
    from exchange.models import Token

    return Token.objects.get(network=network, symbol=symbol)


def test_a_withdrawal_signed_for_one_networks_contract_is_refused_on_another(
    api, seeded, other_network, fund
):
    signer = seeded.accounts[2]
    eth = other_network_token(other_network, "ETH")
    fund(signer, eth, 10**18)
    before = snapshot()
    payload = withdrawal(signer, eth, 10**17, contract=CONTRACT)
    assert_refused(post(api, "/create_transfers", payload, other_network.id), "signature", 1005)
    assert snapshot() == before


def test_a_trade_signed_for_one_networks_contract_is_refused_on_another(
    api, seeded, other_network, fund
):
    maker, taker = seeded.accounts[0], seeded.accounts[2]
    tst = other_network_token(other_network, "TST")
    eth = other_network_token(other_network, "ETH")
    for token in (tst, eth):
        fund(maker, token, 10**24)
        fund(taker, token, 10**24)
    # The maker's order on the other network, properly signed for its contract.
    payload = signed_order(
        maker,
        contract=other_network.exchange_address,
        give_token=tst,
        give_amount=10**18,
        take_token=eth,
        take_amount=10**16,
    )
    assert post(api, "/create_orders", payload, other_network.id).status_code == 201
    order = Order.objects.get(hash=payload["orderHash"])
    item = fill_payload(taker, order, 10**15)  # signed over the order's own network ...
    digest = hashing.trade_hash(
        contract=CONTRACT,  # ... no: over the first network's contract
        order_hash=order.hash,
        amount=10**15,
        account=address_of(taker),
        nonce=int(item["nonce"]),
    )
    item["signature"] = sign_hash(taker, digest)
    before = snapshot()
    assert_refused(post(api, "/create_trades", [item], other_network.id), "[0].signature", 1005)
    assert snapshot() == before


# --- the admin and the operator's actions ---------------------------------------------


def _admin_paths(seeded) -> list[str]:
    paths = ["/admin/", "/admin/dashboard/", "/admin/password_change/"]
    for model, _model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        paths.append(reverse("admin:app_list", args=(info[0],)))
        paths.append(reverse(f"admin:{info[0]}_{info[1]}_changelist"))
        paths.append(reverse(f"admin:{info[0]}_{info[1]}_add"))
        first = model._default_manager.order_by("pk").first()
        pk = first.pk if first is not None else 1
        for view in ("change", "history", "delete"):
            paths.append(reverse(f"admin:{info[0]}_{info[1]}_{view}", args=(pk,)))
    return sorted(set(paths))


def _actions(seeded) -> list[tuple[str, dict]]:
    """Every operator action: the dashboard's POSTs and each admin list action."""
    market = Market.objects.first()
    assert market is not None
    actions = [
        (
            "/admin/dashboard/",
            {"action": "market_status", "market": market.pk, "status": "HALTED"},
        ),
        (
            "/admin/dashboard/",
            {"action": "order_submission", "network": seeded.network.pk, "enabled": "0"},
        ),
    ]
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        first = model._default_manager.order_by("pk").first()
        for name in model_admin.actions or []:
            actions.append(
                (
                    reverse(f"admin:{info[0]}_{info[1]}_changelist"),
                    {"action": name, "_selected_action": [first.pk if first else 1]},
                )
            )
    return actions


def _unchanged_state():
    return (
        list(Market.objects.values_list("id", "status")),
        list(Network.objects.values_list("id", "order_submission_enabled", "enabled")),
    )


def _login_redirect(response) -> bool:
    return response.status_code == 302 and "/admin/login/" in response["Location"]


def test_every_admin_page_and_action_sends_anonymous_visitors_to_the_login(seeded):
    client = Client()
    for path in _admin_paths(seeded):
        assert _login_redirect(client.get(path)), path
    before = _unchanged_state()
    for path, data in _actions(seeded):
        assert _login_redirect(client.post(path, data)), (path, data)
    assert _unchanged_state() == before


def test_a_user_without_staff_rights_reaches_no_admin_page_or_action(seeded):
    user = User.objects.create_user("mallory", password="pw-not-staff")
    user.is_superuser = True  # even with every permission, without is_staff: refused
    user.save()
    client = Client()
    client.force_login(user)
    for path in _admin_paths(seeded):
        response = client.get(path)
        assert _login_redirect(response) or response.status_code == 403, path
    before = _unchanged_state()
    for path, data in _actions(seeded):
        response = client.post(path, data)
        assert _login_redirect(response) or response.status_code == 403, (path, data)
    assert _unchanged_state() == before


def test_operator_posts_without_a_csrf_token_are_refused(seeded):
    staff = User.objects.create_superuser("operator", password="pw-operator")
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    before = _unchanged_state()
    for path, data in _actions(seeded):
        assert client.post(path, data).status_code == 403, (path, data)
    assert _unchanged_state() == before


def test_a_staff_operator_with_a_csrf_token_can_act(seeded):
    """The refusals above are the guards', not a broken action."""
    staff = User.objects.create_superuser("operator2", password="pw-operator")
    client = Client()
    client.force_login(staff)
    path, data = _actions(seeded)[1]
    assert client.post(path, data).status_code == 302
    seeded.network.refresh_from_db()
    assert seeded.network.order_submission_enabled is False


# --- secrets --------------------------------------------------------------------------

OPERATOR_KEY = "0x" + "5e" * 32


def _secret_forms(secret: str) -> list[str]:
    bare = secret.removeprefix("0x")
    return [secret, bare, bare.upper()]


def test_no_secret_reaches_a_log_line_or_a_response_body(api, seeded, settings, caplog):
    settings.OPERATOR_PRIVATE_KEY = OPERATOR_KEY
    _key, raw_key = api_key_issue(
        name="desk", allow_trade=True, allow_user_data=True, rate_limit_multiplier=10
    )
    caplog.set_level(logging.DEBUG)
    api.credentials(HTTP_X_API_KEY=raw_key)
    signer = seeded.accounts[2]
    bodies = []
    order = _order(seeded, signer)
    for path, body in [
        ("/create_orders", order),
        ("/create_orders", order),  # a refusal
        ("/get_orders", {"account": address_of(signer)}),
        ("/delete_orders", signed_cancel(signer, order_hash=order["orderHash"])),
        ("/create_transfers", withdrawal(signer, seeded.eth, 10**17)),
        ("/get_transfers", {"account": address_of(signer)}),
        ("/get_fee_info", {}),
        ("/get_ticker", {}),
    ]:
        bodies.append(post(api, path, body).content.decode())
    bodies.append(api.get(f"/accounts/{address_of(signer)}").content.decode())
    bodies.append(api.get("/healthz").content.decode())
    api.credentials(HTTP_X_API_KEY=raw_key + "x")  # unknown key: 401
    bodies.append(api.get("/tokens").content.decode())
    api.credentials()
    bodies.append(Client().get("/schema").content.decode())
    for command in (("check",), ("rebuild_candles",)):
        call_command(*command)
    text = caplog.text + "\n".join(bodies)
    for secret in (OPERATOR_KEY, raw_key):
        for form in _secret_forms(secret):
            assert form not in text, f"a secret appears: {form[:6]}…"
    assert re.search(r"event=request ", caplog.text), "the request log lines were captured"


def test_the_chain_commands_never_print_or_log_the_operator_key(
    deployment, chain_network, settings, caplog, capsys
):
    settings.OPERATOR_PRIVATE_KEY = deployment.operator.key
    settings.FEE_ACCOUNT = deployment.fee_account.address
    caplog.set_level(logging.DEBUG)
    Network.objects.filter(pk=chain_network.pk).update(exchange_address="")
    call_command("deploy_exchange", "--network", str(chain_network.id))
    with contextlib.suppress(SystemExit):  # exit status 1 on a difference: not the point here
        call_command("reconcile", "--network", str(chain_network.id))
    call_command("run_chain_workers", "--network", str(chain_network.id))
    out = capsys.readouterr()
    text = caplog.text + out.out + out.err
    for form in _secret_forms(deployment.operator.key):
        assert form not in text
