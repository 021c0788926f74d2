from django.http import HttpResponse
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from exchange.api.networks import network_from_params
from exchange.api.params import request_params
from exchange.models import Network
from exchange.services.maintenance import writes_allowed


class ExchangeView(APIView):
    """Base for every public endpoint: merged parameters and the request's network.

    A view that changes state sets `writes = True`: while the exchange is read-only for
    maintenance (exchange/services/maintenance.py) it is refused with code 102."""

    writes = False

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self.writes:
            writes_allowed()

    def params(self) -> dict:
        if not hasattr(self, "_params"):
            self._params = request_params(self.request)
        return self._params

    def network(self) -> Network:
        if not hasattr(self, "_network"):
            self._network = network_from_params(self.params())
        return self._network


def render_json(data) -> bytes:
    """The bytes a DRF Response of `data` would carry (for bodies kept in the cache)."""
    return JSONRenderer().render(data)


def json_response(body: bytes) -> HttpResponse:
    return HttpResponse(body, content_type="application/json")
