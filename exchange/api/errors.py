"""The one error renderer: every API error has the spec's body, never HTML or a trace.

Body: {"code": ..., "reason": ..., "validationErrors": [{"field", "code", "reason"}]}.
General codes: 100 validation failed, 101 malformed JSON, 102 order submission
disabled, 103 throttled. Errors the spec does not number carry their HTTP status.

The domain's refusals (exchange/services/errors.py) get their code and HTTP status here,
in DOMAIN_ERRORS, and nowhere else; this module re-exports them for the API's own checks.
"""

import logging
import sys
from collections.abc import Iterator
from enum import IntEnum

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from exchange.services.errors import (
    DomainError,
    FieldCode,
    FieldError,
    Invalid,
    NotFound,
    OrderSubmissionDisabled,
    Unavailable,
)

__all__ = [
    "DOMAIN_ERRORS",
    "ApiError",
    "Code",
    "FieldCode",
    "FieldError",
    "NotFound",
    "OrderSubmissionDisabled",
    "error_body",
    "exception_handler",
]

logger = logging.getLogger(__name__)


class Code(IntEnum):
    VALIDATION_FAILED = 100
    MALFORMED_JSON = 101
    ORDER_SUBMISSION_DISABLED = 102
    THROTTLED = 103


# DRF's own error codes, mapped onto the spec's validation codes.
_DRF_FIELD_CODES = {
    "required": FieldCode.REQUIRED,
    "null": FieldCode.REQUIRED,
    "blank": FieldCode.REQUIRED,
    "max_value": FieldCode.OUT_OF_RANGE,
    "min_value": FieldCode.OUT_OF_RANGE,
    "invalid_choice": FieldCode.UNSUPPORTED_OPTION,
}


class ApiError(exceptions.APIException):
    """An error with a spec code and an HTTP status, raised by views and services."""

    def __init__(self, code: int, reason: str, http_status: int = status.HTTP_400_BAD_REQUEST):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.status_code = http_status


# The domain's refusals, most specific first: (class, the spec's code, HTTP status).
# FieldError (an Invalid) is rendered apart, with its validationErrors item.
DOMAIN_ERRORS: tuple[tuple[type[DomainError], int, int], ...] = (
    (OrderSubmissionDisabled, Code.ORDER_SUBMISSION_DISABLED, status.HTTP_400_BAD_REQUEST),
    (NotFound, status.HTTP_404_NOT_FOUND, status.HTTP_404_NOT_FOUND),
    (Unavailable, status.HTTP_503_SERVICE_UNAVAILABLE, status.HTTP_503_SERVICE_UNAVAILABLE),
    (Invalid, Code.VALIDATION_FAILED, status.HTTP_400_BAD_REQUEST),
)


def domain_error_response(error: DomainError) -> Response:
    """The spec's body and status of a domain refusal."""
    if isinstance(error, FieldError):
        item = {"field": error.field, "code": int(error.code), "reason": error.reason}
        body = error_body(Code.VALIDATION_FAILED, "Validation failed", [item])
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    for kind, code, http_status in DOMAIN_ERRORS:
        if isinstance(error, kind):
            return Response(error_body(code, error.reason), status=http_status)
    raise TypeError(f"no API code for {type(error).__name__}")  # a new DomainError kind


def error_body(code: int, reason: str, validation_errors: list | None = None) -> dict:
    body: dict = {"code": int(code), "reason": reason}
    if validation_errors is not None:
        body["validationErrors"] = validation_errors
    return body


def _field_code(detail: exceptions.ErrorDetail) -> int:
    if isinstance(detail.code, int):
        return detail.code
    return int(_DRF_FIELD_CODES.get(detail.code or "", FieldCode.INCORRECT_FORMAT))


def _flatten(detail, prefix: str = "") -> Iterator[dict]:
    """Yields {"field", "code", "reason"} for every leaf of DRF's nested error detail."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == "non_field_errors":
                name = prefix
            elif prefix:
                name = f"{prefix}.{key}"
            else:
                name = str(key)
            yield from _flatten(value, name)
    elif isinstance(detail, list):
        if detail and all(isinstance(item, dict) for item in detail):
            for index, item in enumerate(detail):
                yield from _flatten(item, f"{prefix}[{index}]")
        else:
            for item in detail:
                yield from _flatten(item, prefix)
    else:
        yield {"field": prefix or None, "code": _field_code(detail), "reason": str(detail)}


def validation_errors(detail) -> list[dict]:
    return [error for error in _flatten(detail) if error["reason"]]


def exception_handler(exc: Exception, context: dict) -> Response:
    headers = {}
    if isinstance(exc, DomainError):
        return domain_error_response(exc)
    if isinstance(exc, exceptions.ValidationError):
        body = error_body(
            Code.VALIDATION_FAILED, "Validation failed", validation_errors(exc.detail)
        )
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.ParseError):
        return Response(error_body(Code.MALFORMED_JSON, "Malformed JSON: " + str(exc.detail)), 400)
    if isinstance(exc, ApiError):
        body = error_body(exc.code, exc.reason)
        return Response(body, status=exc.status_code)
    if isinstance(exc, Http404):
        return Response(error_body(404, str(exc) or "Not found"), status=404)
    if isinstance(exc, exceptions.Throttled):
        wait = exc.wait  # type: ignore[attr-defined]  # set in Throttled.__init__, not in its stubs
        if wait:
            headers["Retry-After"] = str(int(wait))
        return Response(error_body(Code.THROTTLED, "Too many requests"), 429, headers=headers)
    if isinstance(exc, exceptions.APIException):
        if isinstance(exc, exceptions.MethodNotAllowed):
            allowed = context["view"].allowed_methods
            headers["Allow"] = ", ".join(allowed)
        return Response(
            error_body(exc.status_code, str(exc.detail)), exc.status_code, headers=headers
        )
    if isinstance(exc, PermissionDenied):
        return Response(error_body(403, str(exc) or "Forbidden"), status=403)
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body(Code.MALFORMED_JSON, "Malformed JSON: body too large"), 400)
    if isinstance(exc, SuspiciousOperation):
        # Django's own refusals of a request (too many fields, a bad header): a 400.
        logger.warning("event=suspicious_request error=%s", type(exc).__name__)
        return Response(error_body(400, "Bad request"), status=400)
    if isinstance(exc, OperationalError | InterfaceError):
        # The database went away (a dropped connection, a restart, a failover) or gave
        # up on a lock: the open transaction rolled back. A retry is safe: every write is
        # bound to a signed hash the database refuses twice.
        logger.error(
            "event=database_unavailable view=%s error=%s",
            type(context.get("view")).__name__,
            type(exc).__name__,
        )
        return Response(
            error_body(503, DATABASE_UNAVAILABLE),
            status=503,
            headers={"Retry-After": "1"},
        )
    logger.exception("event=unhandled_api_error view=%s", type(context.get("view")).__name__)
    return Response(error_body(500, "Internal server error"), status=500)


DATABASE_UNAVAILABLE = "Service unavailable: the database did not answer; retry"


def server_error(request) -> JsonResponse:
    """handler500: an exception outside DRF's views (a middleware's query, the rate
    limiter's first connection of a request) is the spec's JSON body; the database gone
    (a failover, a restart) is a 503 to retry there too, as in the views."""
    exc = sys.exception()
    if isinstance(exc, OperationalError | InterfaceError):
        logger.error("event=database_unavailable view=- error=%s", type(exc).__name__)
        response = json_error_response(503, DATABASE_UNAVAILABLE)
        response["Retry-After"] = "1"
        return response
    return json_error_response(500, "Internal server error")


def json_error_response(http_status: int, reason: str) -> JsonResponse:
    return JsonResponse(error_body(http_status, reason), status=http_status)
