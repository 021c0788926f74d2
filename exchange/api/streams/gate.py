"""The WebSocket upgrade through the REST API's rate limiter (shared/STREAMS.md, Limits).

The upgrade request is put through exchange.api.throttling.RateLimitMiddleware as a
GET /ws: a connection is counted against the policies as a request is (per IP, per API
key), an unknown or revoked X-API-KEY is refused with 401, a banned client with 418,
a throttled one with 429, each with the REST body, as an HTTP answer to the upgrade
(the ASGI "websocket.http.response" extension, which uvicorn implements).
"""

import io

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse

from exchange.api.streams.consumer import _db
from exchange.api.throttling import RateLimitMiddleware

_ADMITTED = 299  # a status no refusal has


def _admitted(_request) -> HttpResponse:
    return HttpResponse(status=_ADMITTED)


_limiter = RateLimitMiddleware(_admitted)


def _refusal(scope: dict) -> HttpResponse | None:
    request = ASGIRequest({**scope, "method": "GET"}, io.BytesIO())
    response = _limiter(request)
    return None if response.status_code == _ADMITTED else response


class StreamGate:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            refusal = await _db(_refusal)(scope)
            if refusal is not None:
                await receive()  # websocket.connect
                if "websocket.http.response" not in scope.get("extensions", {}):
                    await send({"type": "websocket.close", "code": 1008})
                    return
                headers = [
                    (name.lower().encode("latin-1"), value.encode("latin-1"))
                    for name, value in refusal.items()
                ]
                await send(
                    {
                        "type": "websocket.http.response.start",
                        "status": refusal.status_code,
                        "headers": headers,
                    }
                )
                await send({"type": "websocket.http.response.body", "body": refusal.content})
                return
        return await self.inner(scope, receive, send)
