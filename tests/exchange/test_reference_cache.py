"""The reference rows kept per process (exchange/selectors/reference_cache.py): kept
while nothing changes, dropped by every process as soon as an operator changes one."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from exchange.models import MarketRules, OrderSide, Token
from exchange.selectors import reference_cache
from exchange.selectors.reference_cache import (
    GENERATION_KEY,
    market_of_pair,
    token_kept,
)

pytestmark = pytest.mark.django_db


def test_a_pair_is_found_either_way_round_with_its_side(network, market):
    bid = market_of_pair(network.id, market.base.address, market.quote.address)
    ask = market_of_pair(network.id, market.quote.address.upper(), market.base.address)
    assert (bid.market.id, bid.side, bid.give.id, bid.take.id) == (
        market.id,
        OrderSide.BID,
        market.base_id,
        market.quote_id,
    )
    assert (ask.side, ask.give.id, ask.take.id) == (OrderSide.ASK, market.quote_id, market.base_id)


def test_rows_are_kept_until_the_shared_generation_changes(
    network, token, django_assert_num_queries
):
    token_kept(network.id, token.address)
    with django_assert_num_queries(0):
        assert token_kept(network.id, token.address).symbol == token.symbol
    # Another replica's operator renames the token: its reference_forget drops the
    # shared token (here by hand, as the row is changed without this process's signal).
    Token.objects.filter(pk=token.pk).update(symbol="NEW")
    cache.delete(GENERATION_KEY)
    with django_assert_num_queries(1):
        assert token_kept(network.id, token.address).symbol == "NEW"


def test_an_operator_save_drops_the_shared_generation(network, token):
    token_kept(network.id, token.address)
    assert cache.get(GENERATION_KEY) is not None
    token.withdrawal_fee = 5
    token.save()
    assert cache.get(GENERATION_KEY) is None
    assert token_kept(network.id, token.address).withdrawal_fee == 5


def test_a_delisted_token_leaves_its_markets(network, market):
    assert market_of_pair(network.id, market.base.address, market.quote.address) is not None
    market.quote.listed = False
    market.quote.save()
    assert market_of_pair(network.id, market.base.address, market.quote.address) is None


def test_the_rules_in_force_are_chosen_at_each_call(network, market):
    now = timezone.now()
    MarketRules.objects.create(market=market, amount_step=10, effective_at=now - timedelta(1))
    MarketRules.objects.create(market=market, amount_step=20, effective_at=now + timedelta(1))
    pair = market_of_pair(network.id, market.base.address, market.quote.address)
    assert pair.rules(now).amount_step == 10
    assert pair.rules(now + timedelta(2)).amount_step == 20
    assert pair.rules(now - timedelta(2)).amount_step == 0


def test_unknown_keys_are_not_kept(network, django_assert_num_queries):
    unknown = "0x" + "12" * 20
    assert token_kept(network.id, unknown) is None
    with django_assert_num_queries(1):
        assert token_kept(network.id, unknown) is None
    assert all(
        ("token", network.id, unknown) not in rows for rows in reference_cache._kept.values()
    )


def test_a_row_read_before_an_operator_change_is_never_served_after_it(network, token):
    """Two request threads of one process: the first reads the generation, then its row;
    meanwhile an operator renames the token and the second thread looks it up under the
    new generation. The first thread's old row must not become what later lookups see."""
    key = ("token", network.id, token.address)

    def load_while_the_operator_renames_it():
        old = Token.objects.get(pk=token.pk)
        Token.objects.filter(pk=token.pk).update(symbol="NEW")
        cache.delete(GENERATION_KEY)  # the operator's replica forgets the generation
        assert token_kept(network.id, token.address).symbol == "NEW"  # the second thread
        return old

    assert reference_cache._kept_or_load(key, load_while_the_operator_renames_it).symbol != "NEW"
    assert token_kept(network.id, token.address).symbol == "NEW"
