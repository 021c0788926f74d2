"""exchange/protocol/settlement.py is the contract's trade(): the same balance changes for random fills,
and the same refusals."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.client import ETHER, ContractReverted
from exchange.protocol.settlement import (
    SettlementRefused,
    fee_cap,
    settlement,
    taker_receives_gross,
)
from tests.anvil import MINTED
from tests.chain.contract import ONE, deposit_ether, deposit_token, settle, signed_trade

TAKER_ETHER = 10 * ONE


@pytest.fixture(scope="module")
def market(chain_deployment):
    """The maker (account 1) has all its TST on the exchange, the taker (2) 10 ETH."""
    deployment = chain_deployment
    snapshot = deployment.node.snapshot()
    deposit_token(deployment, deployment.users[0], deployment.tst, MINTED * ONE)
    deposit_ether(deployment, deployment.users[1], TAKER_ETHER)
    yield deployment
    deployment.node.revert(snapshot)


@st.composite
def fills(draw):
    give_amount = draw(st.integers(1, MINTED * ONE))
    take_amount = draw(st.integers(1, TAKER_ETHER))
    amount = draw(st.one_of(st.integers(1, take_amount), st.just(take_amount + 1)))
    out = taker_receives_gross(give_amount=give_amount, take_amount=take_amount, amount=amount)

    def fee(base):
        return draw(
            st.one_of(st.just(0), st.integers(0, fee_cap(base)), st.just(fee_cap(base) + 1))
        )

    return {
        "give_amount": give_amount,
        "take_amount": take_amount,
        "amount": amount,
        "maker_fee": fee(amount),
        "taker_fee": fee(out),
        "gas_fee": fee(out),
    }


def _balances(deployment):
    accounts = (deployment.users[0], deployment.users[1], deployment.fee_account)
    return {
        (token, account.address): deployment.client.balance_of(token, account.address)
        for token in (ETHER, deployment.tst)
        for account in accounts
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fill=fills())
def test_the_contract_settles_exactly_what_settlement_computes(market, fill):
    deployment = market
    maker, taker, fee_account = (
        deployment.users[0].address,
        deployment.users[1].address,
        deployment.fee_account.address,
    )
    try:
        expected = settlement(filled=0, **fill)
    except SettlementRefused as refused:
        with pytest.raises(ContractReverted) as reverted:
            settle(
                deployment,
                signed_trade(
                    deployment,
                    maker=deployment.users[0],
                    taker=deployment.users[1],
                    give_token=deployment.tst,
                    take_token=ETHER,
                    **fill,
                ),
            )
        assert reverted.value.reason == refused.reason
        return

    snapshot = deployment.node.snapshot()
    try:
        before = _balances(deployment)
        settle(
            deployment,
            signed_trade(
                deployment,
                maker=deployment.users[0],
                taker=deployment.users[1],
                give_token=deployment.tst,
                take_token=ETHER,
                **fill,
            ),
        )
        after = _balances(deployment)
    finally:
        deployment.node.revert(snapshot)

    change = {key: after[key] - before[key] for key in before}
    assert change == {
        (ETHER, taker): -expected.taker_gives,
        (ETHER, maker): expected.maker_receives,
        (ETHER, fee_account): expected.fee_in_take_token,
        (deployment.tst, maker): -expected.maker_gives,
        (deployment.tst, taker): expected.taker_receives,
        (deployment.tst, fee_account): expected.fee_in_give_token,
    }


def test_settlement_refuses_a_fill_past_what_is_left_of_the_order():
    with pytest.raises(SettlementRefused, match="overfilled"):
        settlement(
            give_amount=10, take_amount=10, filled=6, amount=5, maker_fee=0, taker_fee=0, gas_fee=0
        )
    assert settlement(
        give_amount=10, take_amount=10, filled=6, amount=4, maker_fee=0, taker_fee=0, gas_fee=0
    )


def test_settlement_refuses_a_product_over_256_bits():
    with pytest.raises(SettlementRefused, match="overflows"):
        settlement(
            give_amount=2**200,
            take_amount=2**60,
            filled=0,
            amount=2**59,
            maker_fee=0,
            taker_fee=0,
            gas_fee=0,
        )
