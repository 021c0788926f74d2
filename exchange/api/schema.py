"""OpenAPI helpers: the error body, the rate-limit headers and the common errors,
added to every operation so each view only describes its own parameters and body.

Annotating a view (see README, "Documenting an endpoint"):

    @extend_schema(
        operation_id="get_fee_info",
        request=inline_serializer("FeeInfoRequest", {"networkId": serializers.IntegerField(required=False)}),
        responses={200: inline_serializer("FeeInfo", {"makerFee": serializers.CharField()})},
    )
    def post(self, request): ...
"""

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

ERROR_SCHEMA = {
    "type": "object",
    "required": ["code", "reason"],
    "properties": {
        "code": {"type": "integer", "description": "100-103 per the spec, else the HTTP status"},
        "reason": {"type": "string"},
        "validationErrors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "code", "reason"],
                "properties": {
                    "field": {"type": "string", "nullable": True},
                    "code": {"type": "integer", "description": "1000-1006"},
                    "reason": {"type": "string"},
                },
            },
        },
    },
}

RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": {
        "description": "Requests allowed per window for this endpoint's cost class",
        "required": True,
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Remaining": {
        "description": "Requests left in the current window",
        "required": True,
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Reset": {
        "description": "When the window resets, UTC epoch seconds",
        "required": True,
        "schema": {"type": "integer"},
    },
    "X-Request-ID": {
        "description": "The request's id, as in the logs",
        "schema": {"type": "string"},
    },
}

_COMMON_ERRORS = {
    "400": "Validation failed (code 100) or malformed JSON (code 101)",
    "401": "Unknown or revoked API key",
    "403": "The API key does not allow this endpoint's security type",
    "418": "Banned for sending on after 429 responses",
    "429": "Rate limit exceeded (code 103)",
    "503": "A dependency (the database) is unavailable: retry later",
}

NETWORK_ID = OpenApiParameter(
    "networkId",
    int,
    description="The network (chain id); default the operator's default network",
)
PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="1-based page, default 1"),
    OpenApiParameter("per_page", int, description="Records per page, default 100"),
]
API_KEY_PARAMETER = {
    "name": "X-API-KEY",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "Optional operator-issued API key: higher rate limits, scoped to security types",
}


def page_envelope(name: str, record: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The spec's paginated envelope around records of `record`."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "total": serializers.IntegerField(),
            "page": serializers.IntegerField(),
            "per_page": serializers.IntegerField(),
            "records": record(many=True),
        },
    )


def add_common_responses(result: dict, generator, request, public: bool) -> dict:
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS)."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    components.setdefault("headers", {}).update(RATE_LIMIT_HEADERS)
    header_refs = {name: {"$ref": f"#/components/headers/{name}"} for name in RATE_LIMIT_HEADERS}
    error_ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            operation.setdefault("parameters", []).append(API_KEY_PARAMETER)
            responses = operation.setdefault("responses", {})
            for status, description in _COMMON_ERRORS.items():
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": error_ref}},
                    },
                )
            for status, response in responses.items():
                if status[0] in "45" and "content" not in response:
                    response["content"] = {"application/json": {"schema": error_ref}}
                response.setdefault("headers", {}).update(header_refs)
    return result
