"""Trades: fill signed orders (create_trades) and the trade history (get_trades)."""

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
)
from exchange.api.networks import network_from_params
from exchange.api.pagination import page_request, paginated_response
from exchange.api.params import request_items
from exchange.selectors.orders import market_by_name
from exchange.selectors.trades import trade_list, trade_result
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


class CreateTradesView(ExchangeView):
    """One object or an array of them; the response is always an array."""

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
            market = market_by_name(network=network, name=data["market"])
            if market is None:
                raise FieldError(
                    "market",
                    FieldCode.UNSUPPORTED_OPTION,
                    f"Market {data['market']} is not traded on network {network.id} "
                    "(names are BASE_QUOTE)",
                )
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
        total, records = trade_list(
            network=network,
            page=page,
            order_hash=data.get("orderHash"),
            market=market,
            account=data.get("account"),
            start_ms=start,
            end_ms=end,
            ascending=data["sort"] == "asc",
        )
        return paginated_response(request, page, total, records)
