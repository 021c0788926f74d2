"""Reference data endpoints: tokens, the contract address, fees."""

from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response

from exchange.api.base import ExchangeView
from exchange.api.errors import NotFound
from exchange.api.pagination import page_request, paginated_response
from exchange.api.schema import NETWORK_ID, PAGE_PARAMETERS, page_envelope
from exchange.models import Network
from exchange.paging import PageRequest
from exchange.selectors.reference import fee_info_get, market_list, token_list


class TokenSerializer(serializers.Serializer):
    decimals = serializers.CharField(help_text="Decimal places, as a string")
    address = serializers.CharField(help_text="Lower-case 0x address; Ether is 0x0…0")
    name = serializers.CharField()
    symbol = serializers.CharField()
    withdrawalFee = serializers.CharField(
        help_text="Charged on each withdrawal, in base units (beside the spec's fields)"
    )
    withdrawalMinimum = serializers.CharField(
        help_text="The smallest withdrawal, in base units; 0: any amount above the fee"
    )
    amountPrecision = serializers.CharField(
        allow_null=True,
        help_text="Decimal places an amount may carry; null: all of the token's decimals",
    )


class MarketTokenSerializer(serializers.Serializer):
    address = serializers.CharField()
    symbol = serializers.CharField()
    decimals = serializers.CharField()


class MarketRulesSerializer(serializers.Serializer):
    priceTick = serializers.CharField(
        help_text="Prices (BASE per QUOTE) are multiples of it; 0: any price"
    )
    amountStep = serializers.CharField(
        help_text="QUOTE amounts are multiples of it, in base units; 0: any"
    )
    minOrderTotal = serializers.CharField(
        help_text="The smallest order (and remainder after a partial fill), in BASE base units"
    )
    maxOpenOrders = serializers.IntegerField(help_text="Per account in the market; 0: no limit")


class MarketSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="BASE_QUOTE, as get_orderbook's `market`")
    base = MarketTokenSerializer()
    quote = MarketTokenSerializer()
    status = serializers.ChoiceField(choices=["ACTIVE", "CANCEL_ONLY", "HALTED"])
    rules = MarketRulesSerializer()
    makerFee = serializers.CharField(help_text="The fee fraction in force, as get_fee_info")
    takerFee = serializers.CharField()


class NetworkPageView(ExchangeView):
    """GET: one page of the request's network's reference rows, as `rows` reads them."""

    def rows(self, *, network: Network, page: PageRequest) -> tuple[int, list]:
        raise NotImplementedError

    def get(self, request):
        page = page_request(self.params())
        total, records = self.rows(network=self.network(), page=page)
        return paginated_response(request, page, total, records)


def _page_schema(name: str, item: type[serializers.Serializer], *, summary: str, description: str):
    """The schema of a NetworkPageView's GET: get_<name>s, a page of `item`."""
    return extend_schema_view(
        get=extend_schema(
            operation_id=f"get_{name}s",
            tags=["reference"],
            parameters=[NETWORK_ID, *PAGE_PARAMETERS],
            responses={200: page_envelope(f"{name.title()}Page", item)},
            summary=summary,
            description=description,
        )
    )


@_page_schema(
    "market",
    MarketSerializer,
    summary="The network's markets with their status, rules and fees (paginated)",
    description="GET /markets: every market of listed tokens, oldest first (docs/markets.md).",
)
class MarketListView(NetworkPageView):
    def rows(self, **query):
        return market_list(**query)


@_page_schema(
    "token",
    TokenSerializer,
    summary="The network's listed tokens (paginated)",
    description="GET /tokens: every listed token of the network, oldest first.",
)
class TokenListView(NetworkPageView):
    def rows(self, **query):
        return token_list(**query)


class ContractAddressView(ExchangeView):
    @extend_schema(
        operation_id="get_contract_address",
        summary="The exchange contract every signature is bound to",
        description="Orders, cancels, trades and withdrawals are signed over this address.",
        tags=["reference"],
        parameters=[NETWORK_ID],
        responses={
            200: inline_serializer("ContractAddress", {"address": serializers.CharField()}),
            404: OpenApiResponse(description="No contract is deployed on the network"),
        },
    )
    def get(self, request):
        network = self.network()
        if not network.exchange_address:
            raise NotFound(f"No exchange contract is deployed on network {network.id}")
        return Response({"address": network.exchange_address})


class FeeInfoView(ExchangeView):
    @extend_schema(
        operation_id="get_fee_info",
        summary="The maker and taker fee fractions in force",
        description="Fractions of what each side receives; parameters in the body or query.",
        tags=["reference"],
        parameters=[NETWORK_ID],
        request=inline_serializer(
            "FeeInfoRequest", {"networkId": serializers.IntegerField(required=False)}
        ),
        responses={
            200: inline_serializer(
                "FeeInfo",
                {
                    "makerFee": serializers.CharField(help_text="A fraction, e.g. 0.00100000"),
                    "takerFee": serializers.CharField(help_text="A fraction, e.g. 0.00200000"),
                },
            )
        },
    )
    def post(self, request):
        return Response(fee_info_get(network=self.network()))
