"""Reference data endpoints: tokens, the contract address, fees."""

from rest_framework.response import Response

from exchange.api.base import ExchangeView
from exchange.api.errors import NotFound
from exchange.api.pagination import page_request, paginated_response
from exchange.selectors.reference import fee_info_get, token_list


class TokenListView(ExchangeView):
    def get(self, request):
        page = page_request(self.params())
        total, tokens = token_list(network=self.network(), page=page)
        return paginated_response(request, page, total, tokens)


class ContractAddressView(ExchangeView):
    def get(self, request):
        network = self.network()
        if not network.exchange_address:
            raise NotFound(f"No exchange contract is deployed on network {network.id}")
        return Response({"address": network.exchange_address})


class FeeInfoView(ExchangeView):
    def post(self, request):
        return Response(fee_info_get(network=self.network()))
