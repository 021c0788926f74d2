"""The operator-transaction outbox (chain/outbox.py), killed between every step, against
anvil and PostgreSQL: for a trade (the settler) and a withdrawal (the dispatcher), a run
dies at each point of claim, send, confirm and re-sign, and the runs after it carry the row
to its end with one transaction mined for it: nothing sent twice, nothing stuck.

A kill is a BaseException raised at that point, so no handler of the workers catches it
(as a SIGKILL or an OOM would stop the process); the database transaction around it rolls
back as PostgreSQL would on a lost connection."""

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from chain import outbox, rpc_batch, settler, withdrawals
from chain.client import ETHER
from chain.withdrawals import withdrawals_confirm_run, withdrawals_dispatch_run
from exchange.models import SettlementStatus, Trade, Transfer, TransferStatus
from tests.chain.contract import ONE
from tests.chain.test_withdrawals import request_withdrawal

pytestmark = pytest.mark.django_db

RUNS_TO_RECOVER = 3  # the row must reach its end within this many runs after the kill


class Killed(BaseException):
    """The worker died here."""


@dataclass
class Kind:
    """One kind of outbox row: how to book one, run its worker, and see it done."""

    model: type
    book: Callable
    run: Callable
    done: Callable
    on_chain: Callable
    complete: tuple  # (module, name) of the service that records the mined outcome


def _book_trade(ex) -> int:
    order = ex.ask(ex.makers[0], give_tst=100 * ONE, take_eth=ONE)
    return ex.take(ex.taker, [(order, ONE // 2)])[0].id


def _run_settler(ex) -> None:
    ex.settle()


def _book_withdrawal(ex) -> int:
    return request_withdrawal(ex.deployment, ex.network, ex.taker, ONE, ETHER).id


def _run_dispatcher(ex) -> None:
    withdrawals_dispatch_run(network=ex.network, client=ex.client)
    withdrawals_confirm_run(network=ex.network, client=ex.client)


KINDS = {
    "trade": Kind(
        model=Trade,
        book=_book_trade,
        run=_run_settler,
        done=lambda row: row.settlement_status == SettlementStatus.SETTLED,
        on_chain=lambda ex, row: ex.client.traded(row.hash),
        complete=(settler, "trades_settlement_complete"),
    ),
    "withdrawal": Kind(
        model=Transfer,
        book=_book_withdrawal,
        run=_run_dispatcher,
        done=lambda row: row.status == TransferStatus.COMPLETE,
        on_chain=lambda ex, row: ex.client.withdrawn(row.hash),
        complete=(withdrawals, "withdrawal_complete"),
    ),
}


# ---- the points a run dies at ----


def _die(*_args, **_kwargs):
    raise Killed


def _then_die(real):
    def wrapped(*args, **kwargs):
        real(*args, **kwargs)
        raise Killed

    return wrapped


def _sends(client, patched, *, after: bool) -> None:
    """Kills the run at its send (one transaction or a JSON-RPC batch of them), before the
    node gets it or after the node took it."""
    real_send, real_batch = client.send_raw, rpc_batch.batch_outcomes

    def send(signed):
        if after:
            real_send(signed)
        raise Killed

    def batch(batch_client, calls):
        if calls and calls[0][0] == "eth_sendRawTransaction":
            if after:
                real_batch(batch_client, calls)
            raise Killed
        return real_batch(batch_client, calls)

    patched.setattr(client, "send_raw", send)
    patched.setattr(rpc_batch, "batch_outcomes", batch)


def at_the_nonce_lock(ex, kind, patched):
    patched.setattr(outbox, "operator_nonces_take", _die)


def after_the_nonce_is_taken(ex, kind, patched):
    patched.setattr(outbox, "operator_nonces_take", _then_die(outbox.operator_nonces_take))


def after_signing(ex, kind, patched):
    patched.setattr(ex.client, "sign_offline", _then_die(ex.client.sign_offline))


def after_storing_before_commit(ex, kind, patched):
    outbox_kind = settler.TRADES if kind.model is Trade else withdrawals.WITHDRAWALS
    patched.setattr(outbox_kind, "store_claimed", _then_die(outbox_kind.store_claimed))


def after_commit_before_the_send(ex, kind, patched):
    _sends(ex.client, patched, after=False)


def after_the_node_took_it(ex, kind, patched):
    _sends(ex.client, patched, after=True)


def after_it_is_marked_sent(ex, kind, patched):
    patched.setattr(outbox, "_mark_broadcast", _then_die(outbox._mark_broadcast))


def before_the_outcome_is_recorded(ex, kind, patched):
    module, name = kind.complete
    patched.setattr(module, name, _die)


CLAIM_TO_RECEIPT = [
    at_the_nonce_lock,
    after_the_nonce_is_taken,
    after_signing,
    after_storing_before_commit,
    after_commit_before_the_send,
    after_the_node_took_it,
    after_it_is_marked_sent,
    before_the_outcome_is_recorded,
]
RESIGN = [
    at_the_nonce_lock,
    after_the_nonce_is_taken,
    after_signing,
    after_commit_before_the_send,
    after_the_node_took_it,
    after_it_is_marked_sent,
]


def _killed_run(ex, kind, kill) -> None:
    with pytest.MonkeyPatch.context() as patched:
        kill(ex, kind, patched)
        with pytest.raises(Killed):
            kind.run(ex)


def _recover(ex, kind, row_id):
    for _ in range(RUNS_TO_RECOVER):
        kind.run(ex)
        row = kind.model.objects.get(id=row_id)
        if kind.done(row):
            return row
    raise AssertionError(f"stuck after {RUNS_TO_RECOVER} runs: {row.__dict__}")


def _mined_nonce(ex) -> int:
    return ex.operator_nonce(pending=False)


def _pool_is_empty(ex) -> bool:
    return int(ex.deployment.node.rpc("txpool_status")["pending"], 16) == 0


@pytest.mark.parametrize("kill", CLAIM_TO_RECEIPT, ids=lambda kill: kill.__name__)
@pytest.mark.parametrize("name", sorted(KINDS))
def test_a_run_killed_anywhere_from_claim_to_receipt_recovers_with_one_transaction(
    chain_exchange, name, kill
):
    ex, kind = chain_exchange, KINDS[name]
    row_id = kind.book(ex)
    nonce_before = _mined_nonce(ex)

    _killed_run(ex, kind, kill)
    row = _recover(ex, kind, row_id)

    assert _mined_nonce(ex) == nonce_before + 1  # one operator transaction was mined
    assert ex.client.receipt(row.transaction_hash).succeeded
    assert kind.on_chain(ex, row)
    assert _pool_is_empty(ex)


@pytest.mark.parametrize("kill", RESIGN, ids=lambda kill: kill.__name__)
@pytest.mark.parametrize("name", sorted(KINDS))
def test_a_run_killed_anywhere_in_a_re_sign_recovers_with_one_new_transaction(
    chain_exchange, name, kill
):
    ex, kind = chain_exchange, KINDS[name]
    row_id = kind.book(ex)
    nonce_before = _mined_nonce(ex)
    # Stored, never sent; then the operator's nonce goes to another transaction by hand,
    # so the stored one can never be mined and must be signed again.
    _killed_run(ex, kind, after_commit_before_the_send)
    stored = kind.model.objects.get(id=row_id)
    operator = ex.deployment.operator.address
    ex.client.transact("Exchange", ex.deployment.exchange, "setAdmin", operator, True)

    _killed_run(ex, kind, kill)
    row = _recover(ex, kind, row_id)

    assert _mined_nonce(ex) == nonce_before + 2  # setAdmin and one re-signed transaction
    assert row.transaction_hash != stored.transaction_hash
    assert row.operator_nonce > stored.operator_nonce
    assert ex.client.receipt(row.transaction_hash).succeeded
    assert ex.client.receipt(stored.transaction_hash) is None
    assert kind.on_chain(ex, row)
    assert _pool_is_empty(ex)
