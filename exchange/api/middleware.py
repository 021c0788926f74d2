from http import HTTPStatus

from exchange.api.errors import json_error_response

_REASONS = {404: "Not found", 405: "Method not allowed", 500: "Internal server error"}


class JsonErrorMiddleware:
    """Outside the admin, an error page Django itself renders (an unknown route,
    an exception outside DRF, DEBUG's technical pages) becomes the spec's JSON body."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith("/admin/") or response.get("Content-Type", "").startswith(
            "application/json"
        ):
            return response
        status = response.status_code
        if status == 404:
            return _keeping_headers(
                response, json_error_response(404, f"No endpoint {request.method} {request.path}")
            )
        if status >= 400:
            # Also Django's own refusals before any view runs (a 400 for a bad Host header).
            reason = _REASONS.get(status) or _phrase(status)
            return _keeping_headers(response, json_error_response(status, reason))
        return response


def _keeping_headers(original, replacement):
    """The replacement carries the original's protocol headers (rate limits, request id)."""
    for name, value in original.items():
        if name.lower().startswith("x-") or name.lower() in ("allow", "retry-after", "link"):
            replacement[name] = value
    return replacement


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Server error" if status >= 500 else "Bad request"
