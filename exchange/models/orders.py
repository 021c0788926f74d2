"""Signed orders and the trades that fill them."""

import uuid

from django.db import models
from django.utils import timezone

from exchange.models.fields import AddressField, AmountField, HashField, signature_type_field
from exchange.models.reference import Market, Network, Token

# One definition of the fill arithmetic, shared with the settlement contract.
from exchange.trading_math import remaining_give


class OrderSide(models.TextChoices):
    BID = "BID", "Bid (gives BASE, takes QUOTE)"
    ASK = "ASK", "Ask (gives QUOTE, takes BASE)"


class OrderStatus(models.TextChoices):
    OPEN = "OPEN", "Open"
    FILLED = "FILLED", "Filled"
    CANCELLED = "CANCELLED", "Cancelled"
    EXPIRED = "EXPIRED", "Expired"


class CloseReason(models.TextChoices):
    """Why an order left the book other than by its own fills, cancel or expiry."""

    REMAINDER_UNDER_MINIMUM = "REMAINDER_UNDER_MINIMUM", "Remainder under the market minimum"
    CANCEL_ALL = "CANCEL_ALL", "Cancelled by a signed cancel-all"
    ACCOUNT_FROZEN = "ACCOUNT_FROZEN", "Cancelled: the account was frozen by an operator"


# BASE per QUOTE, exact enough to order the book; the API renders prices from the amounts.
PRICE_DIGITS, PRICE_PLACES = 78, 36


class Order(models.Model):
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="+")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="orders")
    account = AddressField()
    give_token = models.ForeignKey(Token, on_delete=models.PROTECT, related_name="+")
    give_amount = AmountField()
    take_token = models.ForeignKey(Token, on_delete=models.PROTECT, related_name="+")
    take_amount = AmountField()
    nonce = AmountField()
    expiry_ms = models.PositiveBigIntegerField("expiry (Unix ms)")
    hash = HashField(unique=True)
    signature = models.CharField(max_length=132)
    signature_type = signature_type_field()
    side = models.CharField(max_length=3, choices=OrderSide)
    price = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES)
    # In units of the take token: the sum of the trades' amounts.
    filled = AmountField(default=0)
    status = models.CharField(max_length=9, choices=OrderStatus, default=OrderStatus.OPEN)
    close_reason = models.CharField(
        max_length=32, choices=CloseReason, blank=True, default="", db_default=""
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # get_orders by market and status (an account's orders in any state).
            models.Index(fields=["account", "market", "status", "id"], name="order_account_market"),
            # id last: the book's full sort key (price, expiry, then arrival) is one range scan.
            models.Index(
                fields=["market", "side", "price", "expiry_ms", "id"],
                condition=models.Q(status="OPEN"),
                name="order_book",
            ),
            # The book's totals (get_orderbook): an index-only range count on expiry,
            # half the pages of order_book, which has the price before the expiry.
            models.Index(
                fields=["market", "side", "expiry_ms"],
                condition=models.Q(status="OPEN"),
                name="order_book_count",
            ),
            models.Index(fields=["account", "created_at"], name="order_account"),
            models.Index(
                fields=["expiry_ms"], condition=models.Q(status="OPEN"), name="order_open_expiry"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(give_amount__gt=0, take_amount__gt=0),
                name="order_amounts_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(filled__gte=0, filled__lte=models.F("take_amount")),
                name="order_filled_within_take",
            ),
        ]

    def __str__(self) -> str:
        return self.hash

    @property
    def remaining(self):
        """What is left to fill, in units of the take token."""
        return int(self.take_amount) - int(self.filled)

    @property
    def remaining_give(self) -> int:
        """What the order still holds, in units of the give token (see remaining_give())."""
        return remaining_give(
            give_amount=self.give_amount, take_amount=self.take_amount, filled=self.filled
        )


class CancelAll(models.Model):
    """A signed cancel-all that was applied (issue #16, docs/markets.md): its nonce is
    used once per account and network, so a replayed request is refused."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="+")
    account = AddressField()
    nonce = AmountField()
    market = models.ForeignKey(
        Market, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    hash = HashField()
    signature = models.CharField(max_length=600)
    signature_type = signature_type_field()
    cancelled = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["network", "account", "nonce"], name="cancel_all_nonce_once"
            ),
        ]

    def __str__(self) -> str:
        return f"cancel-all {self.account} nonce {self.nonce}"


class SettlementStatus(models.TextChoices):
    UNSETTLED = "UNSETTLED", "Waiting to be sent"
    SENT = "SENT", "Sent, waiting for confirmations"
    SETTLED = "SETTLED", "Settled on chain"
    # Quarantined: the contract refused it; the other trades keep settling. An operator
    # retries it (UNSETTLED again) or reverses it (REVERSED: its ledger legs undone).
    FAILED = "FAILED", "Quarantined: refused by the contract"
    REVERSED = "REVERSED", "Reversed by an operator (never settled)"


class Trade(models.Model):
    """One fill of one maker order by a taker; also the outbox row for settlement.

    give_* is what the maker gave (the order's give token, received by the taker);
    take_* is what the maker took (the order's take token: `amount`, from the taker).
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="+")
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="trades")
    order = models.ForeignKey("Order", on_delete=models.PROTECT, related_name="trades")
    maker = AddressField()
    taker = AddressField()
    give_token = models.ForeignKey(Token, on_delete=models.PROTECT, related_name="+")
    give_amount = AmountField()
    take_token = models.ForeignKey(Token, on_delete=models.PROTECT, related_name="+")
    take_amount = AmountField()
    # The taker's signed fill: tradeHash over (contract, orderHash, amount, taker, nonce).
    hash = HashField(unique=True)
    nonce = AmountField()
    signature = models.CharField(max_length=132)
    signature_type = signature_type_field()
    # Base units: buyer/seller fees in what each receives, gas fee charged to the taker.
    buyer_fee = AmountField(default=0)
    seller_fee = AmountField(default=0)
    maker_fee = AmountField(default=0)
    taker_fee = AmountField(default=0)
    gas_fee = AmountField(default=0)
    gas_fee_token = models.ForeignKey(
        Token, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # Human price, BASE per QUOTE, and the sizes in QUOTE and BASE base units.
    price = models.DecimalField(max_digits=PRICE_DIGITS, decimal_places=PRICE_PLACES)
    quote_amount = AmountField()
    base_amount = AmountField()
    taker_side = models.CharField(
        max_length=4, choices=[("buy", "buy"), ("sell", "sell")], help_text="From the taker's view"
    )
    settlement_status = models.CharField(
        max_length=9, choices=SettlementStatus, default=SettlementStatus.UNSETTLED
    )
    transaction_hash = HashField(blank=True)
    gas_used = models.PositiveBigIntegerField(null=True, blank=True)
    settlement_error = models.TextField(blank=True)
    # Settlement: the operator's signed trade() transaction, stored (with its nonce and
    # hash) before it is broadcast, so an unknown outcome is looked up, and the very same
    # transaction sent again, instead of a second settlement. The block it was mined in.
    operator_nonce = models.PositiveBigIntegerField(null=True, blank=True)
    raw_transaction = models.TextField(blank=True, db_default="")
    broadcast_at = models.DateTimeField(null=True, blank=True)
    block_number = models.PositiveBigIntegerField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    # Set by trade_execute (one instant per request, also the candles' bucket time).
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["market", "created_at"], name="trade_market_time"),
            # An account's history (get_trades) is two index-only scans, as maker and as
            # taker: the network and the sort key are in the index, and the taker's also
            # carries the maker (a taker's trades exclude its own makes).
            models.Index(fields=["maker", "network", "created_at", "id"], name="trade_maker_time"),
            models.Index(
                fields=["taker", "network", "created_at", "id"],
                include=["maker"],
                name="trade_taker_time",
            ),
            models.Index(
                fields=["network", "id"],
                condition=~models.Q(settlement_status="SETTLED"),
                name="trade_unsettled",
            ),
            # A withdrawal waits for its account's unsettled trades (chain/withdrawals.py).
            models.Index(
                fields=["maker", "created_at"],
                condition=~models.Q(settlement_status="SETTLED"),
                name="trade_unsettled_maker",
            ),
            models.Index(
                fields=["taker", "created_at"],
                condition=~models.Q(settlement_status="SETTLED"),
                name="trade_unsettled_taker",
            ),
        ]

    def __str__(self) -> str:
        return str(self.uuid)
