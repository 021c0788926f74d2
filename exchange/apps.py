from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "exchange"
    verbose_name = "Exchange"

    def ready(self) -> None:
        # Connects the Celery task-outcome counters (web and worker alike).
        from exchange import metrics  # noqa: F401

        # The OpenAPI description of the views that carry none themselves.
        from exchange.api import openapi  # noqa: F401
