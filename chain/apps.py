from django.apps import AppConfig


class ChainConfig(AppConfig):
    name = "chain"
    verbose_name = "Chain"

    def ready(self) -> None:
        # The node client behind the domain's ports (chain/ports.py).
        from chain.ports import ports_register

        ports_register()
        # The chain tick gauges (chain/metrics.py), registered once per process.
        from chain import metrics  # noqa: F401
