"""signatureType eip712 on create_orders, delete_orders, create_trades and create_transfers:
accepted when the EIP-712 signature is the account's on this network's domain, refused
with 1005 (naming the digest the server computed and whom the signature recovers to)
otherwise, and nothing changes on a refusal."""

import pytest

from exchange.models import Balance, LedgerEntry, Order, OrderStatus, Trade, Transfer
from exchange.protocol import typed_data
from tests.signing import (
    address_of,
    new_signer,
    signed_cancel,
    signed_order,
    signed_trade,
    signed_withdrawal,
)
from tests.trading import fill_payload, place

pytestmark = pytest.mark.django_db

OTHER_CONTRACT = "0x" + "cd" * 20


@pytest.fixture
def bid(maker, market):
    """A typed bid on the book: 2 ETH (BASE) for 4000 TST (QUOTE)."""
    return place(
        maker,
        give_token=market.base,
        give_amount=2 * 10**18,
        take_token=market.quote,
        take_amount=4000 * 10**18,
        chain_id=market.network_id,
    )


def money():
    return (
        list(Balance.objects.order_by("id").values_list("account", "token_id", "total", "held")),
        LedgerEntry.objects.count(),
        Order.objects.count(),
        Trade.objects.count(),
        Transfer.objects.count(),
    )


def errors(response) -> list[tuple[str, int]]:
    assert response.status_code == 400, response.json()
    return [(e["field"], e["code"]) for e in response.json()["validationErrors"]]


def typed_bid(network, market, signer, *, chain_id=None, contract=None, **kwargs) -> dict:
    return signed_order(
        signer,
        contract=contract or network.exchange_address,
        give_token=market.base,
        give_amount=10**16,
        take_token=market.quote,
        take_amount=2 * 10**16,
        chain_id=network.id if chain_id is None else chain_id,
        **kwargs,
    )


def test_a_typed_order_is_placed_with_the_specs_order_hash(api, network, market, trader):
    payload = typed_bid(network, market, trader)
    spec = signed_order(
        trader,
        contract=network.exchange_address,
        give_token=market.base,
        give_amount=10**16,
        take_token=market.quote,
        take_amount=2 * 10**16,
        nonce=int(payload["nonce"]),
        expiry_ms=int(payload["expiryTimestampInMilliseconds"]),
    )
    assert payload["signatureType"] == "eip712" and payload["signature"] != spec["signature"]

    response = api.post("/create_orders", payload, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["orderHash"] == spec["orderHash"]
    order = Order.objects.get(hash=spec["orderHash"])
    assert (order.signature_type, order.signature) == ("eip712", payload["signature"])


def test_an_order_without_signature_type_is_eth_sign(api, network, market, trader):
    payload = signed_order(
        trader,
        contract=network.exchange_address,
        give_token=market.base,
        give_amount=10**16,
        take_token=market.quote,
        take_amount=2 * 10**16,
    )
    assert api.post("/create_orders", payload, format="json").status_code == 201
    assert Order.objects.get(hash=payload["orderHash"]).signature_type == "eth_sign"


@pytest.mark.parametrize(
    "replayed",
    [{"chain_id": 1}, {"contract": OTHER_CONTRACT}],
    ids=["another-chain-id", "another-contract"],
)
def test_a_typed_order_signed_for_another_domain_is_refused(api, network, market, trader, replayed):
    """Signed for chain 1 or another contract, then sent here: the server's digest (this
    network's domain) is not what was signed, so it recovers to another address."""
    signed_elsewhere = typed_bid(network, market, trader, **replayed)
    here = typed_bid(
        network,
        market,
        trader,
        nonce=int(signed_elsewhere["nonce"]),
        expiry_ms=int(signed_elsewhere["expiryTimestampInMilliseconds"]),
    )
    payload = {**here, "signature": signed_elsewhere["signature"]}
    before = money()

    response = api.post("/create_orders", payload, format="json")

    assert errors(response) == [("signature", 1005)]
    reason = response.json()["validationErrors"][0]["reason"]
    digest = typed_data.order_digest(
        chain_id=network.id,
        contract=network.exchange_address,
        account=address_of(trader),
        give_token=market.base.address,
        give_amount=10**16,
        take_token=market.quote.address,
        take_amount=2 * 10**16,
        nonce=int(payload["nonce"]),
        expiry_ms=int(payload["expiryTimestampInMilliseconds"]),
    )
    assert f"The signature of the EIP-712 Order digest {digest}" in reason
    assert f"(chainId {network.id}, verifyingContract {network.exchange_address})" in reason
    assert f"not to {address_of(trader)}" in reason
    assert money() == before


def test_an_eth_sign_signature_sent_as_eip712_is_refused_and_the_reverse(
    api, network, market, trader
):
    spec = signed_order(
        trader,
        contract=network.exchange_address,
        give_token=market.base,
        give_amount=10**16,
        take_token=market.quote,
        take_amount=2 * 10**16,
    )
    typed = typed_bid(network, market, trader)
    before = money()
    assert errors(
        api.post("/create_orders", {**spec, "signatureType": "eip712"}, format="json")
    ) == [("signature", 1005)]
    untyped = {key: value for key, value in typed.items() if key != "signatureType"}
    response = api.post("/create_orders", untyped, format="json")
    assert errors(response) == [("signature", 1005)]
    assert (
        f"The signature of orderHash {typed['orderHash']} recovers to"
        in (response.json()["validationErrors"][0]["reason"])
    )
    assert money() == before


@pytest.mark.parametrize("value", ["EIP712", "personal_sign", "", 1, None])
def test_an_unknown_signature_type_is_1006(api, network, market, trader, value):
    before = money()
    payload = {**typed_bid(network, market, trader), "signatureType": value}
    code = 1000 if value is None else 1006
    assert errors(api.post("/create_orders", payload, format="json")) == [("signatureType", code)]
    assert money() == before


def test_a_typed_cancel_releases_the_order(api, network, market, trader):
    payload = typed_bid(network, market, trader)
    assert api.post("/create_orders", payload, format="json").status_code == 201
    foreign = signed_cancel(
        trader, order_hash=payload["orderHash"], chain_id=1, contract=network.exchange_address
    )
    assert errors(api.post("/delete_orders", foreign, format="json")) == [("signature", 1005)]

    cancel = signed_cancel(
        trader,
        order_hash=payload["orderHash"],
        chain_id=network.id,
        contract=network.exchange_address,
    )
    response = api.post("/delete_orders", cancel, format="json")

    assert response.json() == {"success": "0"}
    assert Order.objects.get(hash=payload["orderHash"]).status == OrderStatus.CANCELLED
    assert Balance.objects.get(account=address_of(trader), token=market.base).held == 0


def test_a_typed_fill_books_a_trade_that_keeps_its_type(
    api, network, market, fees, maker, taker, bid
):
    item = fill_payload(taker, bid, bid.take_amount // 2, chain_id=network.id)
    response = api.post("/create_trades", [item], format="json")
    assert response.status_code == 201, response.json()
    assert Trade.objects.get().signature_type == "eip712"


def test_a_typed_fill_for_another_contract_is_refused_on_its_index(
    api, network, market, fees, maker, taker, bid
):
    good = fill_payload(taker, bid, bid.take_amount // 4, chain_id=network.id)
    foreign = fill_payload(taker, bid, bid.take_amount // 4, chain_id=network.id)
    signed_elsewhere = signed_trade(
        taker,
        contract=OTHER_CONTRACT,
        order_hash=bid.hash,
        amount=bid.take_amount // 4,
        nonce=int(foreign["nonce"]),
        chain_id=network.id,
    )
    foreign["signature"] = signed_elsewhere["signature"]
    before = money()
    response = api.post("/create_trades", [good, foreign], format="json")
    assert errors(response) == [("[1].signature", 1005)]
    assert "EIP-712 Trade digest" in response.json()["validationErrors"][0]["reason"]
    assert money() == before


def test_a_typed_withdrawal_is_held_and_keeps_its_type(api, network, token, fund):
    signer = new_signer()
    fund(signer, token, 10**18)
    payload = signed_withdrawal(
        signer, contract=network.exchange_address, token=token, amount=10**17, chain_id=network.id
    )
    assert api.post("/create_transfers", payload, format="json").json() == {"success": "0"}
    withdrawal = Transfer.objects.get(kind="withdrawal")
    assert withdrawal.signature_type == "eip712"
    assert Balance.objects.get(account=address_of(signer), token=token).held == 10**17


def test_a_typed_withdrawal_for_another_chain_names_the_digest_and_changes_nothing(
    api, network, token, fund
):
    signer = new_signer()
    fund(signer, token, 10**18)
    payload = signed_withdrawal(
        signer, contract=network.exchange_address, token=token, amount=10**17, chain_id=1
    )
    before = money()
    response = api.post("/create_transfers", payload, format="json")
    assert errors(response) == [("signature", 1005)]
    reason = response.json()["validationErrors"][0]["reason"]
    assert "The signature of the EIP-712 Withdraw digest 0x" in reason
    assert f"chainId {network.id}" in reason and f"not {address_of(signer)}" in reason
    assert money() == before


def test_a_typed_cancel_on_a_network_without_a_contract_is_1006(api, network, market, trader):
    payload = typed_bid(network, market, trader)
    assert api.post("/create_orders", payload, format="json").status_code == 201
    cancel = signed_cancel(
        trader,
        order_hash=payload["orderHash"],
        chain_id=network.id,
        contract=network.exchange_address,
    )
    network.exchange_address = ""
    network.save()
    before = money()
    assert errors(api.post("/delete_orders", cancel, format="json")) == [("signatureType", 1006)]
    assert money() == before
    assert Order.objects.get(hash=payload["orderHash"]).status == OrderStatus.OPEN
