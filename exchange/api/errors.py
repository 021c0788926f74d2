"""The one error renderer: every API error has the spec's body, never HTML or a trace.

Body: {"code": ..., "reason": ..., "validationErrors": [{"field", "code", "reason"}]}.
General codes: 100 validation failed, 101 malformed JSON, 102 order submission
disabled, 103 throttled. Errors the spec does not number carry their HTTP status.
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

logger = logging.getLogger(__name__)


class Code(IntEnum):
    VALIDATION_FAILED = 100
    MALFORMED_JSON = 101
    ORDER_SUBMISSION_DISABLED = 102
    THROTTLED = 103


class FieldCode(IntEnum):
    REQUIRED = 1000
    INCORRECT_FORMAT = 1001
    INVALID_ADDRESS = 1002
    ADDRESS_NOT_SUPPORTED = 1003
    OUT_OF_RANGE = 1004
    INVALID_SIGNATURE = 1005
    UNSUPPORTED_OPTION = 1006


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


class FieldError(exceptions.ValidationError):
    """A validation failure on one field: 400 with code 100 and one validationErrors item."""

    def __init__(self, field: str, code: FieldCode, reason: str):
        super().__init__({field: [exceptions.ErrorDetail(reason, code=int(code))]})


class OrderSubmissionDisabled(ApiError):
    def __init__(self, reason: str):
        super().__init__(Code.ORDER_SUBMISSION_DISABLED, reason)


class NotFound(ApiError):
    def __init__(self, reason: str = "Not found"):
        super().__init__(status.HTTP_404_NOT_FOUND, reason, status.HTTP_404_NOT_FOUND)


def error_body(code: int, reason: str, validation_errors: list | None = None) -> dict:
    body: dict = {"code": int(code), "reason": reason}
    if validation_errors is not None:
        body["validationErrors"] = validation_errors
    return body


def _field_code(detail: exceptions.ErrorDetail) -> int:
    if isinstance(detail.code, int):
        return detail.code
    return int(_DRF_FIELD_CODES.get(detail.code, FieldCode.INCORRECT_FORMAT))


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
        if exc.wait:
            headers["Retry-After"] = str(int(exc.wait))
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
