"""Whatever happens to an account's orders, each balance's hold is exactly the sum of its
open orders' remaining give amounts, and no refusal changes a balance."""

import contextlib
import random

import pytest
from django.db.models import Q

from exchange.models import Balance, Order, OrderStatus
from exchange.services.errors import DomainError, FieldError
from exchange.services.orders import order_cancel, order_remaining_give, orders_expire
from tests.exchange.test_order_place import place
from tests.signing import address_of, new_signer, signed_cancel, signed_order

pytestmark = pytest.mark.django_db


def assert_holds_match_open_orders():
    held = {
        (account, token): (total, held)
        for account, token, total, held in Balance.objects.values_list(
            "account", "token_id", "total", "held"
        )
    }
    expected: dict = {}
    for order in Order.objects.filter(status=OrderStatus.OPEN):
        key = (order.account, order.give_token_id)
        expected[key] = expected.get(key, 0) + order_remaining_give(order)
    assert {key: held for key, (_, held) in held.items() if held} == expected
    assert all(0 <= held <= total for total, held in held.values())


@pytest.mark.parametrize("seed", range(3))
def test_holds_equal_open_orders_remaining_give_through_random_operations(
    network, market, fund, seed
):
    rng = random.Random(seed)
    signers = [new_signer() for _ in range(3)]
    for signer in signers:
        fund(signer, market.base, rng.randint(1, 10**6))
        fund(signer, market.quote, rng.randint(1, 10**6))
    tokens = [market.base, market.quote]
    for _ in range(60):
        signer = rng.choice(signers)
        action = rng.random()
        if action < 0.55:
            give, take = rng.sample(tokens, 2)
            payload = signed_order(
                signer,
                contract=network.exchange_address,
                give_token=give,
                give_amount=rng.randint(1, 4 * 10**5),
                take_token=take,
                take_amount=rng.randint(1, 10**6),
            )
            with contextlib.suppress(FieldError, DomainError):  # over the available balance
                place(network, payload)
        elif action < 0.8:
            order = Order.objects.filter(status=OrderStatus.OPEN).order_by("?").first()
            if order:
                owner = next(s for s in signers if address_of(s) == order.account)
                canceller = owner if rng.random() < 0.8 else signer
                try:
                    order_cancel(
                        network=network,
                        order_hash=order.hash,
                        account=address_of(canceller),
                        nonce=1,
                        signature=signed_cancel(canceller, order_hash=order.hash, nonce=1)[
                            "signature"
                        ],
                    )
                except FieldError:
                    assert canceller != owner
        elif action < 0.9:
            # A partial fill as the trade service leaves it: filled and the hold together.
            order = Order.objects.filter(status=OrderStatus.OPEN).order_by("?").first()
            if order:
                before = order_remaining_give(order)
                order.filled = rng.randint(int(order.filled), int(order.take_amount))
                after = order_remaining_give(order)
                order.status = (
                    OrderStatus.FILLED if order.filled == order.take_amount else OrderStatus.OPEN
                )
                order.save()
                balance = Balance.objects.get(account=order.account, token=order.give_token)
                Balance.objects.filter(pk=balance.pk).update(
                    held=balance.held - (before - after), total=balance.total - (before - after)
                )
        else:
            open_ids = list(
                Order.objects.filter(status=OrderStatus.OPEN).values_list("id", flat=True)
            )
            Order.objects.filter(id__in=rng.sample(open_ids, len(open_ids) // 2)).update(
                expiry_ms=1
            )
            orders_expire()
        assert_holds_match_open_orders()
    assert Order.objects.filter(~Q(status=OrderStatus.OPEN)).exists()
