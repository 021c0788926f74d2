"""Request parameters: JSON or form body plus the query string (the query string wins).

Names are the spec's camelCase (`giveTokenAddress`); their snake_case forms
(`give_token_address`) are accepted too and mean the same parameter.
"""

import re

from rest_framework.request import Request

from exchange.api.errors import ApiError, Code

# Names the spec itself spells in snake_case keep that spelling.
_SNAKE_NAMES = {"per_page", "created_at"}
_SNAKE_PART = re.compile(r"_([a-z0-9])")


def canonical_name(name: str) -> str:
    if name in _SNAKE_NAMES:
        return name
    camel = _SNAKE_PART.sub(lambda match: match.group(1).upper(), name)
    return "per_page" if camel == "perPage" else camel


def _normalise(item):
    if isinstance(item, dict):
        return {canonical_name(str(key)): value for key, value in item.items()}
    return item


def _query_params(request: Request) -> dict:
    # A repeated query parameter keeps its last value, as a form field would.
    return {
        canonical_name(key): request.query_params.getlist(key)[-1] for key in request.query_params
    }


def request_params(request: Request) -> dict:
    """One flat dict of an object body merged with the query string."""
    body = request.data
    if isinstance(body, list):
        raise ApiError(Code.VALIDATION_FAILED, "Expected a JSON object, got an array")
    if hasattr(body, "getlist"):
        body = {key: body.getlist(key)[-1] for key in body}
    if not isinstance(body, dict):
        raise ApiError(Code.VALIDATION_FAILED, "Expected a JSON object")
    return {**_normalise(body), **_query_params(request)}


def request_items(request: Request) -> tuple[list[dict], bool, dict]:
    """For endpoints that take one object or an array of them.

    Returns (items, was_array, shared) where shared holds the query-string
    parameters (networkId, page, ...), which also override each item's fields.
    """
    body = request.data
    query = _query_params(request)
    if isinstance(body, list):
        if not all(isinstance(item, dict) for item in body):
            raise ApiError(Code.VALIDATION_FAILED, "Every item of the array must be an object")
        return [{**_normalise(item), **query} for item in body], True, query
    return [request_params(request)], False, query
