"""EIP-712 signatures on chain: typed orders and fills settle through the settler, a typed
withdrawal is paid through the dispatcher, and the contract refuses a typed signature made
for another chain or contract, or flagged with the wrong type."""

import pytest

from chain.client import ETHER, ContractReverted, trade_arguments
from chain.settler import trade_fields
from chain.watcher import deposits_watch_run
from chain.withdrawals import withdrawals_confirm_run, withdrawals_dispatch_run
from exchange.models import Balance, SettlementStatus, Trade, TransferStatus
from exchange.protocol import typed_data
from exchange.services.withdrawals import withdrawal_request
from tests.anvil import CHAIN_ID
from tests.chain.contract import (
    ONE,
    deposit_ether,
    deposit_token,
    order_and_trade_hashes,
    signed_trade,
    token_balance,
)
from tests.chain.settling import signer_of
from tests.signing import next_nonce, sign_typed

pytestmark = pytest.mark.django_db


def settled(trades) -> list[tuple[str, str]]:
    rows = Trade.objects.filter(id__in=[t.id for t in trades]).select_related("order")
    return [
        (t.settlement_status, f"{t.order.signature_type}/{t.signature_type}")
        for t in rows.order_by("id")
    ]


@pytest.mark.parametrize(
    ("maker_chain", "taker_chain", "kinds"),
    [
        (CHAIN_ID, CHAIN_ID, "eip712/eip712"),
        (CHAIN_ID, None, "eip712/eth_sign"),
        (None, CHAIN_ID, "eth_sign/eip712"),
    ],
)
def test_a_typed_order_fills_and_settles_on_chain(chain_exchange, maker_chain, taker_chain, kinds):
    ex = chain_exchange
    order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE, chain_id=maker_chain)
    trades = ex.take(ex.taker, [(order, ONE // 2)], chain_id=taker_chain)

    result = ex.settle()

    assert result.settled == [trades[0].id] and not result.halted
    assert settled(trades) == [(SettlementStatus.SETTLED, kinds)]
    trade = Trade.objects.get(id=trades[0].id)
    assert ex.client.traded(trade.hash) and ex.client.receipt(trade.transaction_hash).succeeded
    # The orderHash is the spec's hash whichever way the order was signed.
    assert ex.client.order_fills(order.hash) == ONE // 2
    taker_tst = int(Balance.objects.get(account=ex.taker.address, token=ex.tst).total)
    assert ex.client.balance_of(ex.tst.address, ex.taker.address) == taker_tst > 0


def test_a_typed_withdrawal_is_paid_on_chain(deployment, chain_network, settings):
    settings.FEE_ACCOUNT = deployment.fee_account.address
    user = deployment.users[0]
    deposit_ether(deployment, user, 5 * ONE)
    deposits_watch_run(network=chain_network, client=deployment.client)
    wallet_before = token_balance(deployment, ETHER, user.address)
    nonce = next_nonce()
    message = {
        "contractAddress": deployment.exchange,
        "tokenAddress": ETHER,
        "amount": 2 * ONE,
        "account": user.address,
        "nonce": nonce,
    }
    withdrawal = withdrawal_request(
        network=chain_network,
        account=user.address,
        token_address=ETHER,
        amount=2 * ONE,
        nonce=nonce,
        signature=sign_typed(
            signer_of(user), "Withdraw", message, chain_id=CHAIN_ID, contract=deployment.exchange
        ),
        signature_type=typed_data.EIP712,
    )
    assert withdrawal.signature_type == typed_data.EIP712

    assert withdrawals_dispatch_run(network=chain_network, client=deployment.client).sent == [
        withdrawal.id
    ]
    withdrawal.refresh_from_db()
    assert deployment.client.wait_for_receipt(withdrawal.transaction_hash).succeeded
    assert withdrawals_confirm_run(network=chain_network, client=deployment.client).completed == [
        withdrawal.id
    ]
    withdrawal.refresh_from_db()
    assert withdrawal.status == TransferStatus.COMPLETE
    assert deployment.client.withdrawn(withdrawal.hash)
    assert token_balance(deployment, ETHER, user.address) == wallet_before + 2 * ONE
    assert deployment.client.balance_of(ETHER, user.address) == 3 * ONE


# ---- the contract's refusals ----


@pytest.fixture
def funded(deployment):
    deposit_token(deployment, deployment.users[0], deployment.tst, 1_000 * ONE)
    deposit_ether(deployment, deployment.users[1], 10 * ONE)
    return deployment


def typed_fields(deployment, *, chain_id=CHAIN_ID, contract=None, **overrides) -> dict:
    """ExchangeClient.send_trade arguments: an ask and a fill, both signed with EIP-712 on
    (chain_id, contract) (default: this deployment)."""
    fields = signed_trade(
        deployment,
        maker=deployment.users[0],
        taker=deployment.users[1],
        give_token=deployment.tst,
        give_amount=100 * ONE,
        take_token=ETHER,
        take_amount=ONE,
        amount=ONE // 4,
    )
    contract = contract or deployment.exchange
    order_hash = order_and_trade_hashes(deployment, fields)[0]
    order = {
        "contractAddress": contract,
        "account": fields["maker"],
        "giveTokenAddress": fields["give_token"],
        "giveAmount": fields["give_amount"],
        "takeTokenAddress": fields["take_token"],
        "takeAmount": fields["take_amount"],
        "nonce": fields["order_nonce"],
        "expiryTimestampInMilliseconds": fields["expiry_ms"],
    }
    fill = {
        "contractAddress": contract,
        "orderHash": order_hash,
        "amount": fields["amount"],
        "account": fields["taker"],
        "nonce": fields["trade_nonce"],
    }
    domain = {"chain_id": chain_id, "contract": contract}
    fields.update(
        maker_signature=sign_typed(signer_of(deployment.users[0]), "Order", order, **domain),
        taker_signature=sign_typed(signer_of(deployment.users[1]), "Trade", fill, **domain),
        maker_signature_type=typed_data.EIP712,
        taker_signature_type=typed_data.EIP712,
    )
    fields.update(overrides)
    return fields


def test_the_contract_settles_a_typed_trade(funded):
    receipt = funded.client.wait_for_receipt(funded.client.send_trade(**typed_fields(funded)))
    assert receipt.succeeded


@pytest.mark.parametrize(
    "domain",
    [{"chain_id": 1}, {"contract": "0x" + "12" * 20}],
    ids=["another-chain-id", "another-contract"],
)
def test_the_contract_refuses_a_typed_signature_for_another_domain(funded, domain):
    with pytest.raises(ContractReverted, match="bad maker signature"):
        funded.client.send_trade(**typed_fields(funded, **domain))


def test_the_contract_refuses_a_typed_signature_flagged_as_eth_sign_and_the_reverse(funded):
    with pytest.raises(ContractReverted, match="bad maker signature"):
        funded.client.send_trade(**typed_fields(funded, maker_signature_type=typed_data.ETH_SIGN))
    spec = signed_trade(
        funded,
        maker=funded.users[0],
        taker=funded.users[1],
        give_token=funded.tst,
        give_amount=100 * ONE,
        take_token=ETHER,
        take_amount=ONE,
        amount=ONE // 4,
    )
    with pytest.raises(ContractReverted, match="bad taker signature"):
        funded.client.send_trade(**{**spec, "taker_signature_type": typed_data.EIP712})


def test_the_contract_refuses_an_unknown_signature_type(funded):
    order, fill = trade_arguments(**typed_fields(funded))
    with pytest.raises(ContractReverted, match="unknown signature type"):
        funded.client.transact("Exchange", funded.exchange, "trade", (*order[:-1], 2), fill)


def test_a_typed_trade_is_settled_once_however_it_is_signed_again(funded):
    """The replay map is the tradeHash's: the same fill signed with eth_sign after its typed
    twin settled is refused as already traded."""
    typed = typed_fields(funded)
    assert funded.client.wait_for_receipt(funded.client.send_trade(**typed)).succeeded
    spec = signed_trade(
        funded,
        maker=funded.users[0],
        taker=funded.users[1],
        give_token=funded.tst,
        give_amount=100 * ONE,
        take_token=ETHER,
        take_amount=ONE,
        amount=ONE // 4,
    )
    with pytest.raises(ContractReverted, match="already traded"):
        funded.client.send_trade(**spec)


def test_the_settler_passes_each_signatures_type(chain_exchange):
    ex = chain_exchange
    order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE, chain_id=CHAIN_ID)
    trade = ex.take(ex.taker, [(order, ONE // 2)])[0]
    fields = trade_fields(Trade.objects.select_related("order__give_token").get(id=trade.id))
    assert (fields["maker_signature_type"], fields["taker_signature_type"]) == (
        typed_data.EIP712,
        typed_data.ETH_SIGN,
    )
