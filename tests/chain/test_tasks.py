import pytest
from django.conf import settings

from chain.tasks import _chain_networks
from relayer.celery import app
from tests.factories import NetworkFactory


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks


@pytest.mark.django_db
def test_the_chain_ticks_cover_enabled_networks_with_a_node_and_a_contract():
    watched = NetworkFactory(rpc_url="http://node", exchange_address="0x" + "ab" * 20)
    NetworkFactory(rpc_url="", exchange_address="0x" + "ac" * 20)
    NetworkFactory(rpc_url="http://node", exchange_address="")
    NetworkFactory(rpc_url="http://node", exchange_address="0x" + "ad" * 20, enabled=False)

    assert list(_chain_networks().values_list("id", flat=True)) == [watched.id]


@pytest.mark.django_db
def test_run_chain_workers_watches_and_withdraws_in_the_foreground(
    deployment, chain_network, settings
):
    from django.core.management import call_command

    from chain.client import ETHER
    from exchange.models import Transfer
    from exchange.protocol import hashing
    from exchange.services.withdrawals import withdrawal_request
    from tests.chain.contract import ONE, deposit_ether

    settings.OPERATOR_PRIVATE_KEY = deployment.operator.key
    user = deployment.users[0]
    deposit_ether(deployment, user, 2 * ONE)
    call_command("run_chain_workers", "--network", str(chain_network.id), stdout=None)
    assert Transfer.objects.get(kind="deposit").status == "COMPLETE"

    digest = hashing.withdraw_hash(
        contract=deployment.exchange, token=ETHER, amount=ONE, account=user.address, nonce=1
    )
    withdrawal = withdrawal_request(
        network=chain_network,
        account=user.address,
        token_address=ETHER,
        amount=ONE,
        nonce=1,
        signature=user.sign_hash(digest),
    )
    call_command("run_chain_workers", stdout=None)
    withdrawal.refresh_from_db()
    deployment.client.wait_for_receipt(withdrawal.transaction_hash)
    call_command("run_chain_workers", stdout=None)
    withdrawal.refresh_from_db()
    assert withdrawal.status == "COMPLETE"


@pytest.mark.django_db
def test_the_settle_task_runs_once_per_network_and_the_foreground_command_settles(
    chain_exchange, settings
):
    from django.core.management import call_command

    from chain.locks import network_lock
    from chain.tasks import trades_settle
    from exchange.models import Trade
    from tests.chain.contract import ONE

    exchange = chain_exchange
    settings.OPERATOR_PRIVATE_KEY = exchange.deployment.operator.key
    order = exchange.ask(exchange.makers[0], give_tst=100 * ONE, take_eth=ONE)
    first = exchange.take(exchange.taker, [(order, ONE // 2)])[0]

    with network_lock("settlement", exchange.network.id) as held:
        assert held
        trades_settle(exchange.network.id)  # another runner holds the network: nothing
        assert Trade.objects.get(id=first.id).settlement_status == "UNSETTLED"
    trades_settle(exchange.network.id)
    assert Trade.objects.get(id=first.id).settlement_status == "SETTLED"

    second = exchange.take(exchange.taker, [(order, ONE // 4)])[0]
    call_command("run_chain_workers", "--network", str(exchange.network.id), stdout=None)
    assert Trade.objects.get(id=second.id).settlement_status == "SETTLED"


@pytest.mark.django_db
def test_trades_booked_while_a_settlement_nudge_waits_share_it(
    chain_exchange, settings, django_capture_on_commit_callbacks, monkeypatch
):
    """One Celery message per settler run, not one per trade: a nudge already sent covers
    the trades committed before its run starts; once a run has started (and only a run
    that got the network's lock), the next trade nudges again."""
    from celery.signals import before_task_publish

    from chain.locks import network_lock
    from chain.tasks import trades_settle
    from exchange.models import Trade
    from exchange.services import chain_jobs
    from exchange.services.chain_jobs import settlement_nudge_taken
    from tests.chain.contract import ONE

    # The mark's expiry is its safety net; a slow machine must not reach it here.
    monkeypatch.setattr(chain_jobs, "SETTLEMENT_NUDGE_SECONDS", 600)

    exchange = chain_exchange
    network_id = exchange.network.id
    settings.OPERATOR_PRIVATE_KEY = exchange.deployment.operator.key
    sent: list[str] = []

    def record(sender=None, **_):
        if sender == "chain.tasks.trades_settle":
            sent.append(sender)

    before_task_publish.connect(record, weak=False)
    try:
        settlement_nudge_taken(network_id)
        order = exchange.ask(exchange.makers[0], give_tst=100 * ONE, take_eth=ONE)
        with django_capture_on_commit_callbacks(execute=True):
            first = exchange.take(exchange.taker, [(order, ONE // 4)])[0]
            second = exchange.take(exchange.taker, [(order, ONE // 4)])[0]
        assert len(sent) == 1

        with network_lock("settlement", network_id) as held:
            assert held
            trades_settle(network_id)  # no run: the nudge stays pending
        with django_capture_on_commit_callbacks(execute=True):
            third = exchange.take(exchange.taker, [(order, ONE // 4)])[0]
        assert len(sent) == 1

        trades_settle(network_id)
        settled = Trade.objects.filter(id__in=[first.id, second.id, third.id])
        assert set(settled.values_list("settlement_status", flat=True)) == {"SETTLED"}
        with django_capture_on_commit_callbacks(execute=True):
            exchange.take(exchange.taker, [(order, ONE // 8)])
        assert len(sent) == 2
    finally:
        before_task_publish.disconnect(record)


@pytest.mark.django_db
def test_withdrawals_requested_while_a_dispatch_nudge_waits_share_it(
    deployment, chain_network, settings, django_capture_on_commit_callbacks, monkeypatch
):
    """One Celery message per dispatcher run, not one per withdrawal request: a nudge
    already sent covers the requests committed before its run starts; once a run has
    started (and only a run that got the network's lock), the next request nudges again.
    Every request is dispatched."""
    from celery.signals import before_task_publish
    from django.core.management import call_command

    from chain.client import ETHER
    from chain.locks import network_lock
    from chain.tasks import withdrawals_dispatch
    from exchange.models import Transfer
    from exchange.protocol import hashing
    from exchange.services import chain_jobs
    from exchange.services.chain_jobs import withdrawal_dispatch_nudge_taken
    from exchange.services.withdrawals import withdrawal_request
    from tests.chain.contract import ONE, deposit_ether

    # The mark's expiry is its safety net; a slow machine must not reach it here.
    monkeypatch.setattr(chain_jobs, "DISPATCH_NUDGE_SECONDS", 600)
    settings.OPERATOR_PRIVATE_KEY = deployment.operator.key
    user = deployment.users[1]
    deposit_ether(deployment, user, 2 * ONE)
    call_command("run_chain_workers", "--network", str(chain_network.id), stdout=None)
    sent: list[str] = []

    def record(sender=None, **_):
        if sender == "chain.tasks.withdrawals_dispatch":
            sent.append(sender)

    def request(nonce: int) -> int:
        digest = hashing.withdraw_hash(
            contract=deployment.exchange,
            token=ETHER,
            amount=ONE // 10,
            account=user.address,
            nonce=nonce,
        )
        with django_capture_on_commit_callbacks(execute=True):
            withdrawal = withdrawal_request(
                network=chain_network,
                account=user.address,
                token_address=ETHER,
                amount=ONE // 10,
                nonce=nonce,
                signature=user.sign_hash(digest),
            )
        return withdrawal.id

    before_task_publish.connect(record, weak=False)
    try:
        withdrawal_dispatch_nudge_taken(chain_network.id)
        ids = [request(101), request(102)]
        assert len(sent) == 1

        with network_lock("withdrawals", chain_network.id) as held:
            assert held
            withdrawals_dispatch(chain_network.id)  # no run: the nudge stays pending
        ids.append(request(103))
        assert len(sent) == 1

        withdrawals_dispatch(chain_network.id)
        dispatched = Transfer.objects.filter(id__in=ids)
        assert set(dispatched.values_list("status", flat=True)) == {"PROCESSING"}
        ids.append(request(104))
        assert len(sent) == 2
    finally:
        before_task_publish.disconnect(record)
