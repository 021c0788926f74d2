"""Hypothesis drives any sequence of place / cancel / fill / expire / deposit / withdraw
(request, complete, fail) through the real services, and after every step checks:

- each balance's hold equals its open orders' remaining give plus its pending withdrawals;
- no balance is negative and none holds more than it has;
- every balance equals the sum of its ledger entries (total and held);
- each token's sum of balances, fee account included, equals deposits minus what left
  the exchange in completed withdrawals (amount minus the fee, which stays with the fee
  account).

That the Python hashes equal the contract's on random inputs is
tests/chain/test_contract_hashes.py (order, cancel, trade and withdraw hashes, recovery).

Short form: a few sequences; the slow test (RUN_SLOW=1) runs many more, longer ones.
"""

import contextlib
from collections import defaultdict

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from exchange.clock import now_ms
from exchange.models import Order, OrderStatus, Transfer, TransferKind, TransferStatus
from exchange.services.deposits import deposit_credit
from exchange.services.errors import DomainError, FieldError
from exchange.services.orders import order_cancel, orders_expire
from exchange.services.withdrawals import withdrawal_complete, withdrawal_fail
from tests.factories import FeeScheduleFactory, MarketFactory, NetworkFactory, TokenFactory
from tests.reliability.invariants import (
    assert_balances_are_their_ledger,
    assert_holds_are_open_orders_plus_pending_withdrawals,
    assert_no_balance_negative,
    assert_no_overfill,
    assert_tokens_conserved,
)
from tests.reliability.seed import withdraw
from tests.signing import address_of, new_signer, signed_cancel
from tests.trading import execute, fill, place

pytestmark = pytest.mark.django_db

REFUSED = (FieldError, DomainError)  # every refusal the services raise (NotFound is one)
SHORT_EXPIRY_MS = 60_000  # orders the expire rule can sweep
WITHDRAWAL_FEE = 3

amounts = st.integers(min_value=1, max_value=3000)


class Exchange(RuleBasedStateMachine):
    """One example: a fresh market in a savepoint that teardown rolls back."""

    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.network = NetworkFactory(exchange_address="0x" + "cd" * 20)
        self.eth = TokenFactory(network=self.network, ether=True, trade_gas_fee=2)
        self.tst = TokenFactory(network=self.network, symbol="TST", withdrawal_fee=WITHDRAWAL_FEE)
        self.tokens = [self.eth, self.tst]
        self.market = MarketFactory(network=self.network, base=self.eth, quote=self.tst)
        FeeScheduleFactory(network=self.network)
        self.signers = [new_signer() for _ in range(3)]
        self.deposited: dict[int, int] = defaultdict(int)
        self.withdrawn: dict[int, int] = defaultdict(int)  # left the exchange (amount - fee)
        self.deposits = 0

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def _deposit(self, signer, token, amount: int) -> None:
        self.deposits += 1
        deposit_credit(
            token=token, account=address_of(signer), amount=amount, reference=f"p:{self.deposits}"
        )
        self.deposited[token.id] += amount

    @initialize(amounts=st.lists(amounts, min_size=6, max_size=6))
    def fund_everyone(self, amounts):
        for index, signer in enumerate(self.signers):
            self._deposit(signer, self.eth, amounts[2 * index])
            self._deposit(signer, self.tst, amounts[2 * index + 1])

    def _open_orders(self) -> list[Order]:
        return list(
            Order.objects.filter(network=self.network, status=OrderStatus.OPEN).order_by("id")
        )

    @rule(who=st.integers(0, 2), token=st.integers(0, 1), amount=amounts)
    def deposit(self, who, token, amount):
        self._deposit(self.signers[who], self.tokens[token], amount)

    @rule(
        who=st.integers(0, 2),
        bid=st.booleans(),
        give=amounts,
        take=amounts,
        short=st.booleans(),
    )
    def place_order(self, who, bid, give, take, short):
        give_token, take_token = (self.eth, self.tst) if bid else (self.tst, self.eth)
        expiry = now_ms() + (SHORT_EXPIRY_MS if short else 3_600_000)
        with contextlib.suppress(REFUSED):
            place(
                self.signers[who],
                give_token=give_token,
                give_amount=give,
                take_token=take_token,
                take_amount=take,
                expiry_ms=expiry,
            )

    @rule(data=st.data())
    def cancel(self, data):
        orders = self._open_orders()
        if not orders:
            return
        order = data.draw(st.sampled_from(orders))
        signer = next(s for s in self.signers if address_of(s) == order.account)
        payload = signed_cancel(signer, order_hash=order.hash)
        with contextlib.suppress(REFUSED):
            order_cancel(
                network=self.network,
                order_hash=order.hash,
                account=order.account,
                nonce=int(payload["nonce"]),
                signature=payload["signature"],
            )

    @rule(data=st.data(), who=st.integers(0, 2), count=st.integers(1, 3))
    def fill_orders(self, data, who, count):
        orders = self._open_orders()
        if not orders:
            return
        first = data.draw(st.sampled_from(orders))
        same_pair = [
            o
            for o in orders
            if (o.give_token_id, o.take_token_id) == (first.give_token_id, first.take_token_id)
        ]
        chosen = data.draw(
            st.lists(
                st.sampled_from(same_pair), min_size=1, max_size=count, unique_by=lambda o: o.id
            )
        )
        taker = self.signers[who]
        fills = [
            fill(taker, order, data.draw(st.integers(1, int(order.take_amount - order.filled) + 2)))
            for order in chosen
        ]
        with contextlib.suppress(REFUSED):
            execute(self.network, fills)

    @rule()
    def expire(self):
        orders_expire(now=now_ms() + 2 * SHORT_EXPIRY_MS)

    @rule(who=st.integers(0, 2), token=st.integers(0, 1), amount=st.integers(1, 4000))
    def request_withdrawal(self, who, token, amount):
        with contextlib.suppress(REFUSED):
            withdraw(self.network, self.signers[who], self.tokens[token], amount)

    def _pending(self) -> list[Transfer]:
        return list(
            Transfer.objects.filter(
                network=self.network,
                kind=TransferKind.WITHDRAWAL,
                status__in=[TransferStatus.PENDING, TransferStatus.PROCESSING],
            ).order_by("id")
        )

    @rule(data=st.data(), completes=st.booleans())
    def settle_withdrawal(self, data, completes):
        pending = self._pending()
        if not pending:
            return
        withdrawal = data.draw(st.sampled_from(pending))
        if not completes:
            assert withdrawal_fail(withdrawal_id=withdrawal.id, reason="reverted")
            return
        # What the dispatcher does once it has signed and sent the transaction.
        Transfer.objects.filter(id=withdrawal.id).update(status=TransferStatus.PROCESSING)
        assert withdrawal_complete(
            withdrawal_id=withdrawal.id, block_number=1, block_hash="0x" + "11" * 32
        )
        assert not withdrawal_complete(
            withdrawal_id=withdrawal.id, block_number=1, block_hash="0x" + "11" * 32
        ), "a withdrawal completes once"
        self.withdrawn[withdrawal.token_id] += int(withdrawal.amount - withdrawal.fee)

    @invariant()
    def holds_are_open_orders_plus_pending_withdrawals(self):
        assert_holds_are_open_orders_plus_pending_withdrawals(self.network)

    @invariant()
    def no_balance_is_negative_or_over_held(self):
        assert_no_balance_negative(self.network)

    @invariant()
    def every_balance_is_the_sum_of_its_ledger(self):
        assert_balances_are_their_ledger(self.network)

    @invariant()
    def tokens_are_conserved(self):
        assert_tokens_conserved(self.network, self.deposited, self.withdrawn)

    @invariant()
    def no_order_is_overfilled(self):
        assert_no_overfill(self.network)


def _settings(*, examples: int, steps: int, derandomize: bool) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        derandomize=derandomize,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def test_any_sequence_keeps_holds_ledger_and_totals_exact():
    run_state_machine_as_test(Exchange, settings=_settings(examples=8, steps=20, derandomize=True))


@pytest.mark.slow
def test_any_long_sequence_keeps_holds_ledger_and_totals_exact():
    run_state_machine_as_test(
        Exchange, settings=_settings(examples=300, steps=60, derandomize=False)
    )
