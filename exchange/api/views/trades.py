"""Trades: fill signed orders (create_trades) and the trade history (get_trades)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from exchange.api.base import ExchangeView
from exchange.api.errors import ApiError, Code, FieldCode, FieldError
from exchange.api.fields import (
    AddressField,
    AmountField,
    Bytes32Field,
    SignatureField,
    UintField,
    parse,
    signature_type_field,
)
from exchange.api.markets import market_from_name
from exchange.api.networks import network_from_params
from exchange.api.pagination import page_request, paginated_json_response, paginated_response
from exchange.api.params import request_items
from exchange.api.schema import NETWORK_ID, PAGE_PARAMETERS, page_envelope
from exchange.selectors.trades import trade_list, trade_page_json, trade_result
from exchange.services.trades import TradeRequest, trade_execute

# Unix milliseconds, stored and compared as a signed 64-bit integer.
_MAX_MS = 2**63 - 2


class CreateTradeInput(serializers.Serializer):
    account = AddressField()
    amount = AmountField()
    orderHash = Bytes32Field()
    nonce = UintField()
    signature = SignatureField()
    tradeHash = Bytes32Field(required=False)
    signatureType = signature_type_field()


class TradeResultSerializer(serializers.Serializer):
    amount = serializers.CharField(help_text="The trade's size in QUOTE base units")
    date = serializers.CharField(help_text="YYYY-MM-DD HH:MM:SS, UTC")
    total = serializers.CharField(help_text="The trade's size in BASE base units")
    baseTokenAddress = serializers.CharField()
    quoteTokenAddress = serializers.CharField()
    type = serializers.ChoiceField(
        choices=["buy", "sell"], help_text="buy: the taker receives QUOTE; sell: it gives QUOTE"
    )
    price = serializers.CharField(help_text="BASE per QUOTE, human units")
    orderHash = serializers.CharField()
    uuid = serializers.CharField()


class TradeRecordSerializer(serializers.Serializer):
    id = serializers.CharField()
    giveTokenAddress = serializers.CharField(help_text="What the maker gave")
    giveAmount = serializers.CharField(help_text="Base units the taker received, before fees")
    takeTokenAddress = serializers.CharField()
    takeAmount = serializers.CharField(help_text="The fill's amount, in take-token base units")
    orderHash = serializers.CharField()
    uuid = serializers.CharField()
    buyerFee = serializers.CharField(help_text="Fee of the party receiving QUOTE, base units")
    sellerFee = serializers.CharField(help_text="Fee of the party receiving BASE, base units")
    gasFee = serializers.CharField(help_text="Charged to the taker, in the give token")
    makerAddress = serializers.CharField()
    takerAddress = serializers.CharField()
    transactionHash = serializers.CharField(
        allow_null=True, help_text="The settlement transaction; null until sent"
    )
    created_at = serializers.CharField(help_text="YYYY-MM-DD HH:MM:SS, UTC")


class CreateTradesView(ExchangeView):
    """One object or an array of them; the response is always an array."""

    writes = True

    @extend_schema(
        operation_id="create_trades",
        summary="Fill signed orders, all or nothing",
        description=(
            "One create_trades item or an array of them, each signed by the taker over "
            "tradeHash(contractAddress, orderHash, amount, account, nonce); `amount` is in "
            "the order's take token. All fill in one transaction or none do."
        ),
        tags=["trades"],
        parameters=[NETWORK_ID],
        request=CreateTradeInput(many=True),
        responses={
            201: TradeResultSerializer(many=True),
            404: OpenApiResponse(description="An unknown orderHash"),
        },
    )
    def post(self, request):
        items, was_array, shared = request_items(request)
        network = network_from_params({**(items[0] if items else {}), **shared})
        if not items:
            raise ApiError(Code.VALIDATION_FAILED, "Give at least one trade")
        rows, errors = [], {}
        for index, item in enumerate(items):
            serializer = CreateTradeInput(data=item)
            if serializer.is_valid():
                rows.append(serializer.validated_data)
            for field, detail in serializer.errors.items():
                errors[f"[{index}].{field}" if was_array else field] = detail
        if errors:
            raise serializers.ValidationError(errors)
        trades = trade_execute(
            network=network,
            fills=[
                TradeRequest(
                    order_hash=row["orderHash"],
                    amount=row["amount"],
                    account=row["account"],
                    nonce=row["nonce"],
                    signature=row["signature"],
                    trade_hash=row.get("tradeHash"),
                    signature_type=row["signatureType"],
                )
                for row in rows
            ],
            indexed=was_array,
        )
        return Response([trade_result(trade) for trade in trades], status=status.HTTP_201_CREATED)


class GetTradesInput(serializers.Serializer):
    orderHash = Bytes32Field(required=False)
    market = serializers.CharField(required=False, max_length=40)
    account = AddressField(required=False)
    startingTimestampInMilliseconds = UintField(required=False, maximum=_MAX_MS)
    endingTimestampInMilliseconds = UintField(required=False, maximum=_MAX_MS)
    sort = serializers.ChoiceField(choices=["asc", "desc"], default="desc")


class GetTradesView(ExchangeView):
    @extend_schema(
        operation_id="get_trades",
        summary="Trade history by order, market and/or account (paginated)",
        tags=["trades"],
        parameters=[NETWORK_ID, *PAGE_PARAMETERS],
        request=GetTradesInput,
        responses={200: page_envelope("TradePage", TradeRecordSerializer)},
    )
    def post(self, request):
        params = self.params()
        data = parse(GetTradesInput, params)
        if not any(data.get(key) for key in ("orderHash", "market", "account")):
            raise FieldError(
                "orderHash",
                FieldCode.REQUIRED,
                "Give at least an orderHash, a market or an account",
            )
        network = self.network()
        market = None
        if data.get("market"):
            market = market_from_name(network, data["market"])
        start, end = (
            data.get("startingTimestampInMilliseconds"),
            data.get("endingTimestampInMilliseconds"),
        )
        if start is not None and end is not None and start > end:
            raise FieldError(
                "endingTimestampInMilliseconds",
                FieldCode.OUT_OF_RANGE,
                f"The range ends ({end}) before it starts ({start})",
            )
        page = page_request(params)
        filters = {
            "network": network,
            "page": page,
            "order_hash": data.get("orderHash"),
            "market": market,
            "account": data.get("account"),
            "start_ms": start,
            "end_ms": end,
            "ascending": data["sort"] == "asc",
        }
        # An account's page on PostgreSQL comes rendered by the database (the same bytes).
        rendered = trade_page_json(**filters)
        if rendered is not None:
            total, records_json = rendered
            return paginated_json_response(
                request, page, total, page.envelope_json(total, records_json)
            )
        total, records = trade_list(**filters)
        return paginated_response(request, page, total, records)
