"""Request ids and structured request logs.

Every request gets an id (the client's X-Request-ID when it is a sane token, else a
new one), returned in the X-Request-ID header and put on every log line written
while the request runs (`request_id=...`). One `event=request` line per request
records method, path, status and duration: never headers, bodies or query strings,
so API keys and signatures never reach the logs.
"""

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable
from urllib.parse import quote

from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("relayer.requests")

REQUEST_ID_HEADER = "X-Request-ID"
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def current_request_id() -> str:
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request_id = _request_id.get()
        if request_id == "-":
            # Django logs a 4xx/5xx after the middleware has returned, with the request.
            request_id = getattr(getattr(record, "request", None), "request_id", "-")
        record.request_id = request_id
        return True


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = offered if _SANE_ID.match(offered) else uuid.uuid4().hex
        # Django's way (request.user too): an attribute the stubs' HttpRequest does not
        # declare; RequestIdFilter reads it back for the log lines written after this returns.
        request.request_id = request_id  # type: ignore[attr-defined]
        token = _request_id.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            logger.info(
                "event=request method=%s path=%s status=%s duration_ms=%d",
                request.method,
                quote(request.path, safe="/:@"),
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )
            return response
        finally:
            _request_id.reset(token)
