"""Pagination shared by every paginated endpoint: page, per_page, total, records, Link."""

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from exchange.api.errors import FieldCode
from exchange.paging import PageRequest


class PageParamsSerializer(serializers.Serializer):
    page = serializers.IntegerField(
        min_value=1,
        default=1,
        error_messages={"min_value": "page starts at 1", "invalid": "page must be an integer"},
    )
    per_page = serializers.IntegerField(
        min_value=1,
        default=settings.API_DEFAULT_PER_PAGE,
        error_messages={"invalid": "per_page must be an integer"},
    )

    def validate_per_page(self, value: int) -> int:
        limit = settings.API_MAX_PER_PAGE
        if value > limit:
            raise serializers.ValidationError(
                f"per_page must be at most {limit}",
                code=int(FieldCode.OUT_OF_RANGE),  # type: ignore[arg-type]  # DRF keeps any code; its stubs say str
            )
        return value


def page_request(params: dict) -> PageRequest:
    serializer = PageParamsSerializer(
        data={key: params[key] for key in ("page", "per_page") if key in params}
    )
    serializer.is_valid(raise_exception=True)
    return PageRequest(**serializer.validated_data)


def link_header(request: Request, page: PageRequest, total: int) -> str:
    last = max(1, -(-total // page.per_page))
    relations = {"first": 1, "last": last}
    if page.page > 1:
        relations["prev"] = min(page.page - 1, last)
    if page.page < last:
        relations["next"] = page.page + 1
    base = request.build_absolute_uri(request.path)
    query: dict[str, str | int] = {key: values[-1] for key, values in request.query_params.lists()}
    links = []
    for rel in ("first", "prev", "next", "last"):
        if rel in relations:
            query.update(page=relations[rel], per_page=page.per_page)
            links.append(f'<{base}?{urlencode(query)}>; rel="{rel}"')
    return ", ".join(links)


def paginated_response(request: Request, page: PageRequest, total: int, records: list) -> Response:
    """The spec's envelope; the Link header's URLs carry page in the query string,
    which wins over the body, so a POST to them with the same body fetches that page."""
    response = Response(page.envelope(total, records))
    response["Link"] = link_header(request, page, total)
    return response


def paginated_json_response(
    request: Request, page: PageRequest, total: int, body: bytes
) -> HttpResponse:
    """paginated_response for an envelope already rendered (render_json)."""
    response = HttpResponse(body, content_type="application/json")
    response["Link"] = link_header(request, page, total)
    return response
