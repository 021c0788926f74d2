"""Events of the chain's changes (shared/STREAMS.md, account channel): a direct withdrawal
(the escape hatch) seen, confirmed or failed, and a deep reorg's undo, each give the
account's transfer at its new status and the orders they cancel, as POST /get_transfers
and POST /get_orderbook show them. Read from the outbox, which the relay delivers."""

import pytest

from exchange.models import StreamEvent, Transfer, TransferKind
from exchange.services.deep_reorgs import deposit_reorg_undo
from tests.chain.test_deep_reorgs import freeze, reorged  # noqa: F401 (a fixture)
from tests.chain.test_escape_hatch import escape

pytestmark = pytest.mark.django_db

ONE = 10**18


def account_events(network, address: str, type_: str) -> list[dict]:
    rows = StreamEvent.objects.filter(
        channel=f"{network.id}/account:{address.lower()}", type=type_
    ).order_by("sequence")
    return [row.data for row in rows]


def transfer_events(network, transfer: Transfer) -> list[dict]:
    events = account_events(network, transfer.account, "transfer")
    return [event for event in events if event["id"] == str(transfer.id)]


def rest_transfer(api, network, transfer: Transfer) -> dict:
    response = api.post(
        "/get_transfers",
        {"networkId": network.id, "account": transfer.account},
        format="json",
    )
    assert response.status_code == 200, response.json()
    [record] = [r for r in response.json()["records"] if r["id"] == str(transfer.id)]
    return record


def test_a_direct_withdrawal_gives_its_transfer_at_each_status_and_its_cancelled_order(
    chain_exchange, api
):
    ex = chain_exchange
    ex.network.confirmations = 2
    ex.network.save()
    maker = ex.makers[0]
    order = ex.ask(maker, give_tst=100 * ONE, take_eth=ONE)
    escape(ex, maker, ex.tst, 400 * ONE)
    ex.watch()
    direct = Transfer.objects.get(kind=TransferKind.DIRECT)
    assert transfer_events(ex.network, direct) == [rest_transfer(api, ex.network, direct)]

    ex.deployment.node.mine(1)
    ex.watch()
    ex.watch()  # nothing changes: no event

    transfers = transfer_events(ex.network, direct)
    assert [t["status"] for t in transfers] == ["PENDING", "COMPLETE"]
    assert transfers[-1] == rest_transfer(api, ex.network, direct)
    cancelled = account_events(ex.network, maker.address, "order")[-1]
    assert (cancelled["orderHash"], cancelled["status"]) == (order.hash, "cancelled")


def test_a_direct_withdrawal_whose_block_leaves_the_chain_gives_its_failure(chain_exchange, api):
    ex = chain_exchange
    ex.network.confirmations = 3
    ex.network.save()
    maker = ex.makers[0]
    from tests.anvil import INACTIVITY_BLOCKS

    ex.deployment.node.mine(INACTIVITY_BLOCKS)
    before = ex.deployment.node.snapshot()
    ex.client.transact(
        "Exchange", ex.deployment.exchange, "withdraw", ex.tst.address, ONE, private_key=maker.key
    )
    ex.watch()
    ex.deployment.node.revert(before)
    ex.deployment.node.mine(5)
    ex.watch()

    direct = Transfer.objects.get(kind=TransferKind.DIRECT)
    transfers = transfer_events(ex.network, direct)
    assert [t["status"] for t in transfers] == ["PENDING", "FAILED"]
    assert transfers[-1] == rest_transfer(api, ex.network, direct)


def test_a_deep_reorgs_undo_gives_the_failed_deposit_and_the_cancelled_order(
    reorged,  # noqa: F811
    api,
):
    ex, account, deposit, order = reorged
    ex.watch()
    deposit_reorg_undo(restriction_id=freeze(deposit).id)

    transfers = transfer_events(ex.network, deposit)
    assert transfers[-1]["status"] == "FAILED"
    assert transfers[-1] == rest_transfer(api, ex.network, deposit)
    cancelled = account_events(ex.network, account.address, "order")[-1]
    assert (cancelled["orderHash"], cancelled["status"]) == (order.hash, "cancelled")
    balance = account_events(ex.network, account.address, "balance")[-1]
    assert (balance["balance"], balance["holdBalance"]) == ("0", "0")
