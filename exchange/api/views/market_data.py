"""Market data: the 24-hour ticker and candlestick charts."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from exchange.api.base import ExchangeView
from exchange.api.errors import ApiError, Code, FieldCode, FieldError
from exchange.api.fields import UintField, parse
from exchange.api.networks import network_from_params
from exchange.api.pagination import page_request, paginated_response
from exchange.api.params import request_items
from exchange.api.schema import NETWORK_ID, PAGE_PARAMETERS, page_envelope
from exchange.models import CANDLE_PERIODS, Market, Network
from exchange.selectors.market_data import candles_get, ticker_list
from exchange.selectors.orders import market_by_name

_MAX_MS = 2**63 - 2
# A chart request spans at most this many periods (daily candles: 270 years).
MAX_CHART_BUCKETS = 100_000


def _market(network: Network, name: str) -> Market:
    market = market_by_name(network=network, name=name)
    if market is None:
        raise FieldError(
            "market",
            FieldCode.UNSUPPORTED_OPTION,
            f"Market {name} is not traded on network {network.id} (names are BASE_QUOTE)",
        )
    return market


class PeriodField(serializers.Field):
    """One of CANDLE_PERIODS, as a string or a number; anything else is code 1006."""

    def to_internal_value(self, data) -> int:
        text = str(data) if isinstance(data, int | str) and not isinstance(data, bool) else ""
        if text not in {str(period) for period in CANDLE_PERIODS}:
            raise serializers.ValidationError(
                f"periodInSeconds must be one of {', '.join(map(str, CANDLE_PERIODS))}",
                code=int(FieldCode.UNSUPPORTED_OPTION),
            )
        return int(text)

    def to_representation(self, value) -> str:
        return str(value)


class TickerInput(serializers.Serializer):
    market = serializers.CharField(required=False, max_length=40)


class TickerSerializer(serializers.Serializer):
    baseTokenAddress = serializers.CharField()
    quoteTokenAddress = serializers.CharField()
    last = serializers.CharField(help_text="BASE per QUOTE, or N/A")
    high = serializers.CharField(help_text="24 hours; or N/A")
    low = serializers.CharField(help_text="24 hours; or N/A")
    lowestAsk = serializers.CharField(help_text="The live book; or N/A")
    highestBid = serializers.CharField(help_text="The live book; or N/A")
    percentChange = serializers.CharField(help_text="In percent, 8 places; 0 if unknown")
    baseVolume = serializers.CharField(help_text="24 hours, BASE, human units")
    quoteVolume = serializers.CharField(help_text="24 hours, QUOTE, human units")


class CandleSerializer(serializers.Serializer):
    date = serializers.CharField(help_text="The bucket's start, Unix seconds")
    high = serializers.CharField()
    low = serializers.CharField()
    open = serializers.CharField()
    close = serializers.CharField()
    volume = serializers.CharField(help_text="BASE, human units")
    quoteVolume = serializers.CharField(help_text="QUOTE, human units")
    weightedAverage = serializers.CharField(help_text="volume / quoteVolume")


class TickerView(ExchangeView):
    @extend_schema(
        operation_id="get_ticker",
        summary="24-hour ticker of every market, or of one (paginated)",
        tags=["market data"],
        parameters=[NETWORK_ID, *PAGE_PARAMETERS],
        request=TickerInput,
        responses={200: page_envelope("TickerPage", TickerSerializer)},
    )
    def post(self, request):
        params = self.params()
        name = parse(TickerInput, params).get("market")
        market = _market(self.network(), name) if name else None
        page = page_request(params)
        total, records = ticker_list(network=self.network(), page=page, market=market)
        return paginated_response(request, page, total, records)


class ChartInput(serializers.Serializer):
    market = serializers.CharField(max_length=40)
    startingTimestampInMilliseconds = UintField(maximum=_MAX_MS)
    endingTimestampInMilliseconds = UintField(maximum=_MAX_MS)
    periodInSeconds = PeriodField()


# Poloniex's names, which the spec's prose uses, for the same parameters.
_ALIASES = {"currencyPair": "market", "period": "periodInSeconds"}


class ChartDataView(ExchangeView):
    """The request is an object or a one-element array (the spec shows both); the
    response is an array of candles."""

    @extend_schema(
        operation_id="get_chart_data",
        summary="Candles of a market over a range",
        description="The request is an object or a one-element array of it.",
        tags=["market data"],
        parameters=[NETWORK_ID],
        request=ChartInput,
        responses={200: CandleSerializer(many=True)},
    )
    def post(self, request):
        items, _, shared = request_items(request)
        if len(items) != 1:
            raise ApiError(Code.VALIDATION_FAILED, "Give one chart request (an object)")
        params = dict(items[0])
        for alias, name in _ALIASES.items():
            if alias in params and name not in params:
                params[name] = params[alias]
        network = network_from_params({**params, **shared})
        data = parse(ChartInput, params)
        start, end = data["startingTimestampInMilliseconds"], data["endingTimestampInMilliseconds"]
        period = data["periodInSeconds"]
        if start > end:
            raise FieldError(
                "endingTimestampInMilliseconds",
                FieldCode.OUT_OF_RANGE,
                f"The range ends ({end}) before it starts ({start})",
            )
        if (end - start) // 1000 // period > MAX_CHART_BUCKETS:
            raise FieldError(
                "startingTimestampInMilliseconds",
                FieldCode.OUT_OF_RANGE,
                f"The range spans more than {MAX_CHART_BUCKETS} periods of {period} seconds",
            )
        market = _market(network, data["market"])
        return Response(
            candles_get(market=market, period=period, start_s=start // 1000, end_s=end // 1000)
        )
