"""Random placements, fills and cancels: holds always equal the open orders' remaining
give amounts, and no token's sum of balances (fee account included) ever changes."""

import contextlib
import random

import pytest
from django.conf import settings

from exchange.models import Balance, Order, OrderStatus, Trade
from exchange.services.errors import DomainError, FieldError
from exchange.services.orders import order_cancel
from tests.exchange.test_hold_invariant import assert_holds_match_open_orders
from tests.signing import address_of, new_signer, signed_cancel
from tests.trading import execute, fill, place, token_sums

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("seed", range(3))
def test_random_trading_keeps_holds_and_sums_exact(network, market, fees, fund, seed):
    rng = random.Random(seed)
    market.base.trade_gas_fee = rng.randint(0, 50)
    market.base.save()
    market.quote.trade_gas_fee = rng.randint(0, 50)
    market.quote.save()
    signers = [new_signer() for _ in range(4)]
    for signer in signers:
        fund(signer, market.base, rng.randint(10**6, 10**9))
        fund(signer, market.quote, rng.randint(10**6, 10**9))
    sums = token_sums()
    tokens = [market.base, market.quote]
    for _ in range(80):
        signer = rng.choice(signers)
        action = rng.random()
        if action < 0.4:
            give, take = rng.sample(tokens, 2)
            with contextlib.suppress(FieldError, DomainError):
                place(
                    signer,
                    give_token=give,
                    give_amount=rng.randint(1, 10**8),
                    take_token=take,
                    take_amount=rng.randint(1, 10**8),
                )
        elif action < 0.85:
            orders = list(Order.objects.filter(status=OrderStatus.OPEN).order_by("?")[:3])
            pair = [o for o in orders if (o.give_token_id, o.take_token_id) == (orders[0].give_token_id, orders[0].take_token_id)] if orders else []  # fmt: skip
            fills = [fill(signer, o, rng.randint(1, int(o.remaining) + 5)) for o in pair]
            before = Trade.objects.count()
            try:
                done = execute(network, fills)
                assert Trade.objects.count() == before + len(done) == before + len(fills)
            except (FieldError, DomainError):
                assert Trade.objects.count() == before
        else:
            order = Order.objects.filter(status=OrderStatus.OPEN).order_by("?").first()
            if order:
                owner = next(s for s in signers if address_of(s) == order.account)
                order_cancel(
                    network=network,
                    order_hash=order.hash,
                    account=order.account,
                    nonce=1,
                    signature=signed_cancel(owner, order_hash=order.hash, nonce=1)["signature"],
                )
        assert_holds_match_open_orders()
        assert token_sums() == sums
    assert Trade.objects.count() >= 5, Trade.objects.count()
    assert Balance.objects.filter(account=settings.FEE_ACCOUNT).exists()
