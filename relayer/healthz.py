"""Operational endpoints: health for load balancers and monitors."""

from django.http import HttpRequest, JsonResponse

from relayer.health import health_get


def healthz(request: HttpRequest) -> JsonResponse:
    health = health_get()
    return JsonResponse(health, status=200 if health["ok"] else 503)
