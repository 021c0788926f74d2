"""Candles: per-market OHLC and volumes per period, kept up to date by trade_execute."""

from django.db import models

from exchange.models.orders import PRICE_DIGITS, PRICE_PLACES
from exchange.models.reference import Market

# The periods get_chart_data serves (seconds); every trade updates one candle of each.
CANDLE_PERIODS = (300, 900, 1800, 7200, 14400, 86400)


class VolumeField(models.DecimalField):
    """A sum of base-unit amounts: wider than one uint256, still an integer."""

    def __init__(self, *args, **kwargs):
        kwargs["max_digits"] = 100
        kwargs["decimal_places"] = 0
        kwargs.setdefault("default", 0)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        del kwargs["max_digits"], kwargs["decimal_places"]
        return name, path, args, kwargs


class Candle(models.Model):
    """The trades of one market in one bucket [bucket_start, bucket_start + period).

    Prices are the trades' (BASE per QUOTE); open and close are those of the trades with
    the lowest and highest ids; volumes are sums of base units (BASE and QUOTE).
    """

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="candles")
    period = models.PositiveIntegerField(help_text="seconds")
    bucket_start = models.BigIntegerField(help_text="Unix seconds, a multiple of the period")
    open = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES)
    high = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES)
    low = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES)
    close = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES)
    base_volume = VolumeField()
    quote_volume = VolumeField()
    trade_count = models.PositiveBigIntegerField(default=0)
    first_trade_id = models.BigIntegerField()
    last_trade_id = models.BigIntegerField()

    class Meta:
        ordering = ["market_id", "period", "bucket_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["market", "period", "bucket_start"], name="candle_unique_bucket"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.market_id} {self.period}s @{self.bucket_start}"
