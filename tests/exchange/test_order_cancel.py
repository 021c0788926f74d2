import pytest

from exchange.models import Balance, LedgerEntry, LedgerKind, Order, OrderStatus
from exchange.services.errors import FieldError, NotFound
from exchange.services.orders import order_cancel, order_place
from tests.signing import address_of, signed_cancel, signed_order

pytestmark = pytest.mark.django_db


def placed(network, market, trader, give=1000, take=300) -> Order:
    payload = signed_order(
        trader,
        contract=network.exchange_address,
        give_token=market.base,
        give_amount=give,
        take_token=market.quote,
        take_amount=take,
    )
    return order_place(
        network=network,
        account=payload["account"],
        give_token_address=payload["giveTokenAddress"],
        give_amount=give,
        take_token_address=payload["takeTokenAddress"],
        take_amount=take,
        nonce=int(payload["nonce"]),
        expiry_ms=int(payload["expiryTimestampInMilliseconds"]),
        signature=payload["signature"],
    )


def cancel(network, signer, order_hash, **overrides):
    payload = {**signed_cancel(signer, order_hash=order_hash), **overrides}
    return order_cancel(
        network=network,
        order_hash=payload["orderHash"],
        account=payload["account"],
        nonce=int(payload["nonce"]),
        signature=payload["signature"],
    )


def test_it_cancels_an_open_order_and_writes_a_release(network, market, trader):
    order = placed(network, market, trader)
    cancel(network, trader, order.hash)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    release = LedgerEntry.objects.get(kind=LedgerKind.RELEASE)
    assert (release.held_delta, release.reference) == (-1000, order.hash)
    assert Balance.objects.get(account=address_of(trader), token=market.base).held == 0


def test_it_refuses_to_cancel_twice(network, market, trader):
    order = placed(network, market, trader)
    cancel(network, trader, order.hash)
    with pytest.raises(FieldError):
        cancel(network, trader, order.hash)
    assert LedgerEntry.objects.filter(kind=LedgerKind.RELEASE).count() == 1


def test_an_order_of_another_network_is_not_found(network, market, trader):
    from tests.factories import NetworkFactory

    order = placed(network, market, trader)
    # Another deployment: two networks never share an exchange address (issue #13).
    elsewhere = NetworkFactory(id=5, exchange_address="0x" + "cd" * 20)
    with pytest.raises(NotFound):
        cancel(elsewhere, trader, order.hash)
