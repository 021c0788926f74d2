"""The project's own gauges beside django-prometheus's and the chain's: the standby that
serves the public reads (relayer/replica.py). Registered on import (relayer/urls.py)."""

from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class ReplicaLagCollector(Collector):
    """relayer_database_replica_lag_seconds and relayer_database_replica_serving, when a
    standby serves the public reads (relayer/replica.py), asked at scrape time."""

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("relayer_database_replica_lag_seconds", "")
        yield GaugeMetricFamily("relayer_database_replica_serving", "")

    def collect(self) -> Iterator[Metric]:
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
