"""The chain workers' state in /metrics, read from the database at scrape time (the
workers run in other processes, often other hosts): the deposit watcher's scanned
block, its blocks per eth_getLogs and its failed scans in a row (0: not stuck).

django-prometheus's /metrics view is wrapped (relayer/urls.py) so these are served in
both of its modes, with or without PROMETHEUS_MULTIPROC_DIR.
"""

from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse
from django_prometheus.exports import ExportToDjangoView
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from chain.models import WatcherCursor


class WatcherCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        scanned = GaugeMetricFamily(
            "relayer_deposit_watcher_scanned_block",
            "The last block whose Deposit logs the watcher has read.",
            labels=["network"],
        )
        failures = GaugeMetricFamily(
            "relayer_deposit_watcher_failures",
            "Failed scans of the watcher's next block in a row; above 0 it is stuck "
            "(backing off, range halved: docs/chain-workers.md).",
            labels=["network"],
        )
        span = GaugeMetricFamily(
            "relayer_deposit_watcher_range_blocks",
            "Blocks per eth_getLogs when lowered after node errors (0: the configured range).",
            labels=["network"],
        )
        for cursor in WatcherCursor.objects.all():
            network = str(cursor.network_id)
            scanned.add_metric([network], cursor.block_number or 0)
            failures.add_metric([network], cursor.failures)
            span.add_metric([network], cursor.range_limit or 0)
        yield from (scanned, failures, span)


_registry = CollectorRegistry(auto_describe=False)
_registry.register(WatcherCollector())


def metrics_export(request: HttpRequest) -> HttpResponse:
    """django-prometheus's page, then the chain workers' gauges."""
    response: HttpResponse = ExportToDjangoView(request)
    response.content = response.content + generate_latest(_registry)
    return response


class ChainTickCollector:
    """relayer_chain_tick_delay_seconds and relayer_chain_tick_age_seconds per network
    and lane (chain/tick_schedule.py), read from the cache at scrape time."""

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("relayer_chain_tick_delay_seconds", "", labels=["network", "lane"])
        yield GaugeMetricFamily("relayer_chain_tick_age_seconds", "", labels=["network", "lane"])

    def collect(self) -> Iterator[Metric]:
        # Imported here: tick_schedule reads chain.tasks, which a web process that
        # serves no scrape need not load.
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
