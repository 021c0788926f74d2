"""Recompute the Candle table from the trades (all markets, or one)."""

from django.core.management.base import BaseCommand, CommandError

from exchange.models import Market
from exchange.services.candles import candles_rebuild


class Command(BaseCommand):
    help = "Rebuild every candle of every market (or of --market BASE_QUOTE) from its trades."

    def add_arguments(self, parser):
        parser.add_argument("--market", help="a market name, BASE_QUOTE")
        parser.add_argument("--network", type=int, help="the network id (default: all)")

    def handle(self, *args, market=None, network=None, **options):
        markets = Market.objects.select_related("base", "quote").order_by("network_id", "id")
        if network is not None:
            markets = markets.filter(network_id=network)
        if market:
            base, _, quote = market.partition("_")
            markets = markets.filter(base__symbol=base, quote__symbol=quote)
            if not markets.exists():
                raise CommandError(f"No market {market}")
        for item in markets:
            count = candles_rebuild(market=item)
            self.stdout.write(f"network={item.network_id} market={item.name} candles={count}")
