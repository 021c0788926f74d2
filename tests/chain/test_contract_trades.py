"""trade(order, fill): settlement as PROTOCOL.md "Trades" computes it, and every refusal.

The standard order: the maker gives 100 TST for 1 ETH (an ask on ETH_TST); the taker fills
part of it, giving ETH (the order's take token) and receiving TST.
"""

import pytest

from chain.client import ETHER, ContractReverted, trade_arguments
from tests.chain.contract import (
    ONE,
    deposit_ether,
    deposit_token,
    order_and_trade_hashes,
    settle,
    signed_trade,
)


@pytest.fixture
def funded(deployment):
    maker, taker = deployment.users[0], deployment.users[1]
    deposit_token(deployment, maker, deployment.tst, 1_000 * ONE)
    deposit_ether(deployment, taker, 10 * ONE)
    return deployment


def ask(deployment, **overrides):
    fields = {
        "maker": deployment.users[0],
        "taker": deployment.users[1],
        "give_token": deployment.tst,
        "give_amount": 100 * ONE,
        "take_token": ETHER,
        "take_amount": ONE,
        "amount": ONE // 4,
    }
    fields.update(overrides)
    return signed_trade(deployment, **fields)


def balances(deployment, token):
    accounts = (deployment.users[0], deployment.users[1], deployment.fee_account)
    return [deployment.client.balance_of(token, account.address) for account in accounts]


def test_it_settles_a_fill_with_fees_exactly_as_the_protocol_says(funded):
    deployment = funded
    maker_fee, taker_fee, gas_fee = ONE // 1000, 25 * ONE // 1000, ONE // 100
    fields = ask(deployment, maker_fee=maker_fee, taker_fee=taker_fee, gas_fee=gas_fee)

    receipt = settle(deployment, fields)

    # The taker gives 0.25 ETH and receives 0.25 * 100 / 1 = 25 TST.
    assert balances(deployment, ETHER) == [ONE // 4 - maker_fee, 10 * ONE - ONE // 4, maker_fee]
    assert balances(deployment, deployment.tst) == [
        975 * ONE,
        25 * ONE - taker_fee - gas_fee,
        taker_fee + gas_fee,
    ]
    order_hash, trade_hash = order_and_trade_hashes(deployment, fields)
    assert deployment.client.order_fills(order_hash) == ONE // 4
    assert deployment.client.traded(trade_hash)
    [event] = deployment.client.exchange_events(receipt.transaction_hash)
    assert event.name == "Trade"
    assert event.args == {
        "orderHash": order_hash,
        "tradeHash": trade_hash,
        "maker": deployment.users[0].address,
        "taker": deployment.users[1].address,
        "giveToken": deployment.tst,
        "giveAmount": 25 * ONE,
        "takeToken": ETHER,
        "takeAmount": ONE // 4,
        "makerFee": maker_fee,
        "takerFee": taker_fee,
        "gasFee": gas_fee,
    }
    for account in deployment.users[:2]:
        last_active = deployment.client.call(
            "Exchange", deployment.exchange, "lastActiveBlock", account.address
        )
        assert last_active == receipt.block_number


@pytest.mark.parametrize(
    ("give_amount", "take_amount", "amount", "taker_receives"),
    [
        (10, 3, 2, 6),  # 20 / 3 = 6.67, rounded down
        (7, 7, 7, 7),
        (1, 1000, 999, 0),  # nothing: refused
        (3 * ONE, 2 * ONE, 1, 1),  # 1.5, rounded down
        (10**23, 10**6, 333_333, 333_333 * 10**17),  # 18 vs 6 decimals
    ],
)
def test_the_taker_receives_amount_times_give_over_take_rounded_down(
    funded, give_amount, take_amount, amount, taker_receives
):
    deployment = funded
    maker, taker = deployment.users[0], deployment.users[1]
    deposit_token(deployment, maker, deployment.tst, 40_000 * ONE)
    fields = ask(deployment, give_amount=give_amount, take_amount=take_amount, amount=amount)
    if taker_receives == 0:
        with pytest.raises(ContractReverted, match="trade too small"):
            settle(deployment, fields)
        return

    settle(deployment, fields)

    assert deployment.client.balance_of(deployment.tst, taker.address) == taker_receives
    assert (
        deployment.client.balance_of(deployment.tst, maker.address) == 41_000 * ONE - taker_receives
    )
    assert deployment.client.balance_of(ETHER, maker.address) == amount
    assert deployment.client.balance_of(ETHER, taker.address) == 10 * ONE - amount


def test_an_order_fills_in_parts_up_to_its_take_amount_and_never_beyond(funded):
    deployment = funded
    settle(deployment, ask(deployment, amount=ONE // 2, trade_nonce=1))
    settle(deployment, ask(deployment, amount=ONE // 2, trade_nonce=2))
    order_hash, _ = order_and_trade_hashes(deployment, ask(deployment))
    assert deployment.client.order_fills(order_hash) == ONE

    with pytest.raises(ContractReverted, match="order overfilled"):
        settle(deployment, ask(deployment, amount=1, trade_nonce=3))
    assert deployment.client.balance_of(deployment.tst, deployment.users[1].address) == 100 * ONE


def test_a_single_fill_over_the_order_is_refused(funded):
    with pytest.raises(ContractReverted, match="order overfilled"):
        settle(funded, ask(funded, amount=ONE + 1))


def test_the_same_trade_is_never_settled_twice(funded):
    deployment = funded
    fields = ask(deployment)
    settle(deployment, fields)
    with pytest.raises(ContractReverted, match="already traded"):
        settle(deployment, fields)
    assert deployment.client.balance_of(deployment.tst, deployment.users[1].address) == 25 * ONE


def test_an_expired_order_still_settles(funded):
    # The relayer checked the expiry when it matched the trade; see trade() in Exchange.sol.
    assert settle(funded, ask(funded, expiry_ms=1)).succeeded


@pytest.mark.parametrize("who", ["maker", "taker"])
def test_it_refuses_a_signature_by_someone_else(funded, who):
    deployment = funded
    stranger = deployment.users[3]
    fields = ask(deployment, **{f"{who}_signer": stranger})
    with pytest.raises(ContractReverted, match=f"bad {who} signature"):
        settle(deployment, fields)


def test_it_refuses_a_taker_signature_over_another_amount(funded):
    deployment = funded
    fields = ask(deployment)
    fields["taker_signature"] = ask(deployment, amount=ONE // 8)["taker_signature"]
    with pytest.raises(ContractReverted, match="bad taker signature"):
        settle(deployment, fields)


def test_it_refuses_a_maker_signature_over_another_price(funded):
    deployment = funded
    fields = ask(deployment)
    fields["maker_signature"] = ask(deployment, give_amount=101 * ONE)["maker_signature"]
    with pytest.raises(ContractReverted, match="bad maker signature"):
        settle(deployment, fields)


@pytest.mark.parametrize(
    ("fee", "cap"),
    [
        ("maker_fee", ONE // 40),  # 10% of the 0.25 ETH the maker receives
        ("taker_fee", 25 * ONE // 10),  # 10% of the 25 TST the taker receives
        ("gas_fee", 25 * ONE // 10),
    ],
)
def test_each_fee_is_capped_at_ten_percent(funded, fee, cap):
    deployment = funded
    name = fee.removesuffix("_fee")
    with pytest.raises(ContractReverted, match=f"{name} fee over the cap"):
        settle(deployment, ask(deployment, **{fee: cap + 1}))
    assert settle(deployment, ask(deployment, **{fee: cap})).succeeded


def test_only_an_admin_settles_trades(funded):
    deployment = funded
    order, fill = trade_arguments(**ask(deployment))
    with pytest.raises(ContractReverted, match="not an admin"):
        deployment.client.transact(
            "Exchange",
            deployment.exchange,
            "trade",
            order,
            fill,
            private_key=deployment.users[1].key,
        )


def test_it_refuses_a_self_trade(funded):
    deployment = funded
    with pytest.raises(ContractReverted, match="self trade"):
        settle(deployment, ask(deployment, taker=deployment.users[0]))


def test_it_refuses_an_order_giving_and_taking_the_same_token(funded):
    with pytest.raises(ContractReverted, match="same token"):
        settle(funded, ask(funded, take_token=funded.tst))


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"give_amount": 0}, "zero order amount"),
        ({"take_amount": 0, "amount": 0}, "zero order amount"),
        ({"amount": 0}, "zero amount"),
    ],
)
def test_it_refuses_zero_amounts(funded, overrides, reason):
    with pytest.raises(ContractReverted, match=reason):
        settle(funded, ask(funded, **overrides))


def test_it_refuses_a_fill_over_the_takers_balance(funded):
    deployment = funded
    order = {"give_amount": 100_000 * ONE, "take_amount": 100 * ONE, "amount": 11 * ONE}
    with pytest.raises(ContractReverted, match="taker balance too low"):
        settle(deployment, ask(deployment, **order))


def test_it_refuses_a_fill_over_the_makers_balance(funded):
    deployment = funded
    order = {"give_amount": 2_000 * ONE, "take_amount": ONE, "amount": ONE}
    with pytest.raises(ContractReverted, match="maker balance too low"):
        settle(deployment, ask(deployment, **order))


def test_what_a_trade_credits_can_be_withdrawn(funded):
    from tests.chain.contract import signed_withdrawal, token_balance

    deployment = funded
    settle(deployment, ask(deployment))
    taker = deployment.users[1]
    before = token_balance(deployment, deployment.tst, taker.address)
    withdrawal = signed_withdrawal(deployment, taker, deployment.tst, 25 * ONE)
    deployment.client.wait_for_receipt(deployment.client.send_admin_withdraw(**withdrawal.fields))
    assert token_balance(deployment, deployment.tst, taker.address) == before + 25 * ONE
