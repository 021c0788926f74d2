"""Balances: what an account holds on the exchange, and how much of it is on hold."""

from rest_framework import serializers

from exchange.api.base import ExchangeView
from exchange.api.fields import AddressField, parse
from exchange.api.pagination import page_request, paginated_response
from exchange.selectors.balances import balance_list


class BalancesInput(serializers.Serializer):
    account = AddressField()


class _BalanceListView(ExchangeView):
    def balances(self, request, params: dict):
        account = parse(BalancesInput, params)["account"]
        page = page_request(params)
        total, records = balance_list(network=self.network(), account=account, page=page)
        return paginated_response(request, page, total, records)


class AccountBalancesView(_BalanceListView):
    """GET /accounts/<address>."""

    def get(self, request, address: str):
        return self.balances(request, {**self.params(), "account": address})


class BalancesView(_BalanceListView):
    """GET /balances?account=<address>."""

    def get(self, request):
        return self.balances(request, self.params())
