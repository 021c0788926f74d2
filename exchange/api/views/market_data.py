"""Market data: the 24-hour ticker and candlestick charts."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from exchange.api.base import ExchangeView, json_response, render_json
from exchange.api.errors import ApiError, Code, FieldCode, FieldError
from exchange.api.fields import UintField, parse
from exchange.api.markets import market_from_name
from exchange.api.networks import network_from_params
from exchange.api.pagination import page_request, paginated_json_response
from exchange.api.params import request_items
from exchange.api.schema import NETWORK_ID, PAGE_PARAMETERS, page_envelope
from exchange.market_snapshots import snapshot
from exchange.models import CANDLE_PERIODS, Market, Network
from exchange.paging import PageRequest
from exchange.selectors.market_data import candles_get, ticker_read

_MAX_MS = 2**63 - 2
# A chart request spans at most this many periods (daily candles: 270 years).
MAX_CHART_BUCKETS = 100_000


class PeriodField(serializers.Field):
    """One of CANDLE_PERIODS, as a string or a number; anything else is code 1006."""

    def to_internal_value(self, data) -> int:
        text = str(data) if isinstance(data, int | str) and not isinstance(data, bool) else ""
        if text not in {str(period) for period in CANDLE_PERIODS}:
            raise serializers.ValidationError(
                f"periodInSeconds must be one of {', '.join(map(str, CANDLE_PERIODS))}",
                code=int(FieldCode.UNSUPPORTED_OPTION),  # type: ignore[arg-type]  # DRF keeps any code; its stubs say str
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
        network = self.network()
        market = market_from_name(network, name) if name else None
        page = page_request(params)
        total, body = snapshot(
            market_id=market.id if market else None,
            network_id=network.id,
            key=f"ticker:{market.id if market else '*'}:{page.page}:{page.per_page}",
            read=lambda: _ticker_read(network, page, market),
        )
        return paginated_json_response(request, page, total, body)


def _ticker_read(
    network: Network, page: PageRequest, market: Market | None
) -> tuple[tuple[int, bytes], int | None]:
    (total, records), earliest_expiry = ticker_read(network=network, page=page, market=market)
    return (total, render_json(page.envelope(total, records))), earliest_expiry


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
        market = market_from_name(network, data["market"])
        start_s, end_s = start // 1000, end // 1000
        candles = snapshot(
            market_id=market.id,
            network_id=network.id,
            # The answer depends only on the first and the last bucket in the range.
            key=f"chart:{period}:{start_s // period}:{end_s // period}",
            read=lambda: (
                render_json(
                    candles_get(market=market, period=period, start_s=start_s, end_s=end_s)
                ),
                None,
            ),
        )
        return json_response(candles)
