"""The account guard reads the exchange contract through a port (exchange/services/
account_guard.py) that the chain app fills when Django starts (chain/ports.py): exchange
imports nothing of chain, and an exposed account is still checked against the node."""

import pytest

from exchange.models import AccountRestriction, RestrictionKind
from relayer.ports import free_port
from tests.signing import address_of, signed_order
from tests.trading import snapshot

pytestmark = pytest.mark.django_db


def test_an_exposed_accounts_order_is_a_503_while_the_node_does_not_answer(api, market, maker):
    network = market.network
    network.rpc_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    network.save()
    AccountRestriction.objects.create(
        network=network,
        account=address_of(maker),
        kind=RestrictionKind.ESCAPE_HATCH,
        reason="no activity for its inactivity period",
    )
    before = snapshot()
    order = signed_order(
        maker,
        contract=network.exchange_address,
        give_token=market.base,
        give_amount=10**17,
        take_token=market.quote,
        take_amount=100 * 10**18,
    )
    response = api.post("/create_orders", order, format="json")
    assert response.status_code == 503
    body = response.json()
    assert body == {
        "code": 503,
        "reason": f"Cannot read {address_of(maker)}'s balance in the exchange contract now "
        "(the node did not answer: ConnectionError): try again",
    }
    assert snapshot() == before
