"""The chain workers' state in /metrics, read from the database at scrape time (the
workers run in other processes, often other hosts): the deposit watcher's scanned
block, its blocks per eth_getLogs and its failed scans in a row (0: not stuck).

django-prometheus's /metrics view is wrapped (relayer/urls.py) so these are served in
both of its modes, with or without PROMETHEUS_MULTIPROC_DIR.
"""

from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse
from django_prometheus.exports import ExportToDjangoView
from prometheus_client import CollectorRegistry, generate_latest
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
