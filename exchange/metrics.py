"""Prometheus metrics beyond django-prometheus's: Celery task outcomes, and the chain
alerts operators must act on (frozen accounts, quarantined trades), read from the
database at each scrape of the web process's /metrics.

Task signals fire in the worker's child processes, so in production the worker runs
with PROMETHEUS_MULTIPROC_DIR set and, when CELERY_METRICS_PORT is set, serves the
combined metrics of its children on that port (docker/compose.yaml does both).
"""

import os

from celery.signals import task_failure, task_retry, task_success, worker_init
from prometheus_client import REGISTRY, CollectorRegistry, Counter, multiprocess, start_http_server
from prometheus_client.core import GaugeMetricFamily

CELERY_TASKS = Counter(
    "relayer_celery_tasks_total",
    "Celery task runs by task name and outcome (success, failure, retry).",
    ["task", "outcome"],
)


def _task_name(sender) -> str:
    return getattr(sender, "name", None) or str(sender)


@task_success.connect(weak=False)
def _count_success(sender=None, **kwargs) -> None:
    CELERY_TASKS.labels(task=_task_name(sender), outcome="success").inc()


@task_failure.connect(weak=False)
def _count_failure(sender=None, **kwargs) -> None:
    CELERY_TASKS.labels(task=_task_name(sender), outcome="failure").inc()


@task_retry.connect(weak=False)
def _count_retry(sender=None, request=None, **kwargs) -> None:
    name = getattr(request, "task", None) or _task_name(sender)
    CELERY_TASKS.labels(task=name, outcome="retry").inc()


@worker_init.connect(weak=False)
def serve_worker_metrics(**kwargs):
    """Serves the worker's metrics on CELERY_METRICS_PORT; returns the server, or None."""
    port = os.environ.get("CELERY_METRICS_PORT")
    if not port:
        return None
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    server, _thread = start_http_server(int(port), addr="0.0.0.0", registry=registry)
    return server


class ChainAlertsCollector:
    """relayer_frozen_accounts, relayer_quarantined_trades and relayer_settlement_backlog
    per network, at scrape time."""

    def describe(self):
        # Registration must not touch the database (the app registry may not be ready).
        yield GaugeMetricFamily("relayer_frozen_accounts", "", labels=["network"])
        yield GaugeMetricFamily("relayer_quarantined_trades", "", labels=["network"])
        yield GaugeMetricFamily("relayer_settlement_backlog", "", labels=["network"])

    def collect(self):
        from django.db import DatabaseError
        from django.db.models import Count

        from exchange.models import AccountRestriction, RestrictionKind, SettlementStatus, Trade

        frozen = GaugeMetricFamily(
            "relayer_frozen_accounts",
            "Accounts frozen because a credited deposit left the chain (deep reorg), "
            "waiting for an operator.",
            labels=["network"],
        )
        quarantined = GaugeMetricFamily(
            "relayer_quarantined_trades",
            "Trades the contract refused (FAILED), waiting for an operator to retry or reverse.",
            labels=["network"],
        )
        backlog = GaugeMetricFamily(
            "relayer_settlement_backlog",
            "Trades booked and not yet settled on chain (UNSETTLED or SENT).",
            labels=["network"],
        )
        try:
            for network_id, count in (
                AccountRestriction.objects.filter(
                    kind=RestrictionKind.FROZEN, resolved_at__isnull=True
                )
                .values_list("network_id")
                .annotate(n=Count("id"))
            ):
                frozen.add_metric([str(network_id)], count)
            for network_id, count in (
                Trade.objects.filter(settlement_status=SettlementStatus.FAILED)
                .values_list("network_id")
                .annotate(n=Count("id"))
            ):
                quarantined.add_metric([str(network_id)], count)
            for network_id, count in (
                Trade.objects.filter(
                    settlement_status__in=[SettlementStatus.UNSETTLED, SettlementStatus.SENT]
                )
                .values_list("network_id")
                .annotate(n=Count("id"))
            ):
                backlog.add_metric([str(network_id)], count)
        except DatabaseError:
            return
        yield frozen
        yield quarantined
        yield backlog


REGISTRY.register(ChainAlertsCollector())


class ChainTickCollector:
    """relayer_chain_tick_delay_seconds and relayer_chain_tick_age_seconds per network
    and lane (chain/tick_schedule.py), read from the cache at scrape time."""

    def describe(self):
        yield GaugeMetricFamily("relayer_chain_tick_delay_seconds", "", labels=["network", "lane"])
        yield GaugeMetricFamily("relayer_chain_tick_age_seconds", "", labels=["network", "lane"])

    def collect(self):
        from chain.tick_schedule import tick_states

        delay = GaugeMetricFamily(
            "relayer_chain_tick_delay_seconds",
            "The last network tick's wait in the queue, from beat's chain tick to its start.",
            labels=["network", "lane"],
        )
        age = GaugeMetricFamily(
            "relayer_chain_tick_age_seconds",
            "Seconds since the last network tick started: grows when ticks stop coming.",
            labels=["network", "lane"],
        )
        try:
            rows = tick_states()
        except Exception:  # a scrape never fails on a database or cache that is down
            return
        for row in rows:
            labels = [str(row["network"]), row["lane"]]
            delay.add_metric(labels, row["delay"])
            age.add_metric(labels, row["age"])
        yield delay
        yield age


REGISTRY.register(ChainTickCollector())


class ReplicaLagCollector:
    """relayer_database_replica_lag_seconds and relayer_database_replica_serving, when a
    standby serves the public reads (relayer/replica.py), asked at scrape time."""

    def describe(self):
        yield GaugeMetricFamily("relayer_database_replica_lag_seconds", "")
        yield GaugeMetricFamily("relayer_database_replica_serving", "")

    def collect(self):
        from relayer.replica import replica_state

        state = replica_state()
        if state is None:
            return
        if state["lag"] is not None:
            yield GaugeMetricFamily(
                "relayer_database_replica_lag_seconds",
                "The standby's replay lag behind the primary (absent while it does not answer).",
                value=state["lag"],
            )
        yield GaugeMetricFamily(
            "relayer_database_replica_serving",
            "1 while the standby serves the public market reads, 0 while they fall back "
            "to the primary (lag above DATABASE_REPLICA_MAX_LAG_SECONDS, or no answer).",
            value=1 if state["serving"] else 0,
        )


REGISTRY.register(ReplicaLagCollector())
