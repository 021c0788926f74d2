"""The ASGI application: the REST API (Django) and the streams at /ws on one port
(relayer/serve.py runs it under uvicorn; docs/streams.md)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "relayer.settings")
django_application = get_asgi_application()  # sets Django up before the imports below

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from exchange.api.streams.consumer import StreamConsumer  # noqa: E402
from exchange.api.streams.gate import StreamGate  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_application,
        # Channels routes ASGI apps with Django's path(); django-stubs types path() for
        # views only, and types-channels' URLRouter wants its own pattern type.
        "websocket": StreamGate(
            URLRouter([path("ws", StreamConsumer.as_asgi())])  # type: ignore[arg-type,list-item]
        ),
    }
)
