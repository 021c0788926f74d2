"""Reference data endpoints: tokens, the contract address, fees."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from exchange.api.base import ExchangeView
from exchange.api.errors import NotFound
from exchange.api.pagination import page_request, paginated_response
from exchange.api.schema import NETWORK_ID, PAGE_PARAMETERS, page_envelope
from exchange.selectors.reference import fee_info_get, token_list


class TokenSerializer(serializers.Serializer):
    decimals = serializers.CharField(help_text="Decimal places, as a string")
    address = serializers.CharField(help_text="Lower-case 0x address; Ether is 0x0…0")
    name = serializers.CharField()
    symbol = serializers.CharField()


class TokenListView(ExchangeView):
    @extend_schema(
        operation_id="get_tokens",
        summary="The network's listed tokens (paginated)",
        description="GET /tokens: every listed token of the network, oldest first.",
        tags=["reference"],
        parameters=[NETWORK_ID, *PAGE_PARAMETERS],
        responses={200: page_envelope("TokenPage", TokenSerializer)},
    )
    def get(self, request):
        page = page_request(self.params())
        total, tokens = token_list(network=self.network(), page=page)
        return paginated_response(request, page, total, tokens)


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
