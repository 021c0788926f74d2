"""Reference data operators control: networks, tokens, markets and fee schedules."""

from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from exchange.models.fields import AddressField, AmountField
from exchange.validators import validate_address, validate_symbol

# The contract refuses fees above 10%; the admin refuses them first.
MAX_FEE = Decimal("0.1")
# How long an operator may take to submit a form whose start time defaulted to "now".
FEE_SCHEDULE_FORM_GRACE = timedelta(minutes=15)


class Network(models.Model):
    id = models.PositiveBigIntegerField(
        primary_key=True, verbose_name="network id", help_text="The chain id, used as networkId."
    )
    name = models.CharField(max_length=64)
    rpc_url = models.CharField("RPC URL", max_length=255, blank=True)
    exchange_address = AddressField(
        "exchange contract address",
        blank=True,
        validators=[validate_address],
        help_text="Set by the deploy_exchange command, or by hand for an existing deployment.",
    )
    confirmations = models.PositiveIntegerField(
        "required confirmations", default=12, help_text="Blocks on top of a deposit before credit."
    )
    enabled = models.BooleanField(default=True, help_text="A disabled network is a 400 (1006).")
    order_submission_enabled = models.BooleanField(
        default=True, help_text="Off: every new order and trade is refused with code 102."
    )
    # Set by the settler when the contract refuses a trade the ledger booked: the two
    # ledgers disagree, so no further trade is sent until an operator resumes.
    settlement_halted = models.BooleanField(
        default=False,
        db_default=False,
        help_text="On: trade settlement is stopped (a trade was refused on chain). "
        "Investigate the FAILED trade, then use the action 'Resume settlement'.",
    )
    settlement_halt_reason = models.TextField(blank=True, db_default="")
    settlement_halted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # PROTOCOL.md: every signature covers the contract address, so one deployment
            # per address: the same address on two networks would let a signature made
            # for one be replayed on the other.
            models.UniqueConstraint(
                fields=["exchange_address"],
                condition=~models.Q(exchange_address=""),
                name="network_unique_exchange_address",
                violation_error_message="Another network already uses this exchange contract "
                "address: signatures made for one deployment would be valid on the other.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"

    def clean(self) -> None:
        if self.exchange_address:
            self.exchange_address = self.exchange_address.lower()


class Token(models.Model):
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="tokens")
    address = AddressField(validators=[validate_address], help_text="0x0…0 is Ether.")
    symbol = models.CharField(max_length=16, validators=[validate_symbol])
    name = models.CharField(max_length=64)
    decimals = models.PositiveSmallIntegerField(validators=[MaxValueValidator(77)])
    listed = models.BooleanField(
        default=True, help_text="Only listed tokens are served and traded."
    )
    withdrawal_fee = AmountField(default=0, help_text="Charged on each withdrawal, in base units.")
    trade_gas_fee = AmountField(
        default=0, help_text="Charged to the taker for settling a trade on chain, in base units."
    )
    withdrawal_minimum = AmountField(
        default=0,
        db_default=0,
        help_text="The smallest withdrawal, in base units (0: any amount above the fee).",
    )
    amount_precision = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(77)],
        help_text="Decimal places an amount may carry (empty: all of the token's decimals). "
        "Withdrawals and orders giving or taking the token must be multiples of "
        "10^(decimals - precision) base units.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["network_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["network", "address"], name="token_unique_address"),
            models.UniqueConstraint(fields=["network", "symbol"], name="token_unique_symbol"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} ({self.network_id})"

    def clean(self) -> None:
        if self.address:
            self.address = self.address.lower()


class MarketStatus(models.TextChoices):
    TRADING = "TRADING", "Trading"
    CANCEL_ONLY = "CANCEL_ONLY", "Cancel only"
    HALTED = "HALTED", "Halted"


class Market(models.Model):
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="markets")
    base = models.ForeignKey(
        Token, on_delete=models.PROTECT, related_name="+", help_text="Prices are in BASE per QUOTE."
    )
    quote = models.ForeignKey(Token, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=MarketStatus, default=MarketStatus.TRADING)
    allow_unpaid_settlement = models.BooleanField(
        default=False,
        db_default=False,
        help_text="On: fills whose fees cannot pay for their settlement (dust) are accepted; "
        "the operator pays the trade() gas. Off: they are refused (see the tokens' trade gas fee).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["network_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["network", "base", "quote"], name="market_unique_pair"),
            models.CheckConstraint(
                condition=~models.Q(base=models.F("quote")), name="market_distinct_tokens"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return f"{self.base.symbol}_{self.quote.symbol}"

    def clean(self) -> None:
        errors = {}
        if self.base_id and self.quote_id and self.base_id == self.quote_id:
            errors["quote"] = "Base and quote must be different tokens."
        for field in ("base", "quote"):
            token = getattr(self, field, None) if getattr(self, f"{field}_id") else None
            if token is not None and self.network_id and token.network_id != self.network_id:
                errors[field] = "The token belongs to another network."
        if errors:
            raise ValidationError(errors)


class FeeScheduleQuerySet(models.QuerySet["FeeSchedule"]):
    def in_force(self, network: Network, at: datetime | None = None) -> "FeeSchedule | None":
        at = at or timezone.now()
        return self.filter(network=network, effective_at__lte=at).order_by("-effective_at").first()


class FeeSchedule(models.Model):
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="fee_schedules")
    maker_fee = models.DecimalField(
        max_digits=10,
        decimal_places=8,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(MAX_FEE)],
        help_text="A fraction: 0.001 is 0.1%. At most 0.1 (the contract's cap).",
    )
    taker_fee = models.DecimalField(
        max_digits=10,
        decimal_places=8,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(MAX_FEE)],
        help_text="A fraction: 0.002 is 0.2%. At most 0.1 (the contract's cap).",
    )
    effective_at = models.DateTimeField(
        default=timezone.now, help_text="The latest schedule that has taken effect is in force."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = FeeScheduleQuerySet.as_manager()

    class Meta:
        ordering = ["network_id", "-effective_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["network", "effective_at"], name="fee_schedule_unique_start"
            ),
        ]

    def __str__(self) -> str:
        return f"maker {self.maker_fee} / taker {self.taker_fee} from {self.effective_at:%Y-%m-%d %H:%M}"

    @property
    def has_taken_effect(self) -> bool:
        return self.effective_at <= timezone.now()

    def clean(self) -> None:
        # A schedule never starts in the past: the time since then belongs to the
        # schedule that was in force. A start that has just passed (the form's
        # default "now", submitted a little later) means now.
        if self.effective_at is None or not self._start_is_being_set():
            return
        now = timezone.now()
        if self.effective_at >= now:
            return
        if now - self.effective_at <= FEE_SCHEDULE_FORM_GRACE:
            self.effective_at = now
            return
        raise ValidationError(
            {
                "effective_at": "A fee schedule cannot start in the past: trades since then "
                "were charged under the schedule in force. Choose now or a later time."
            }
        )

    def _start_is_being_set(self) -> bool:
        if self._state.adding or self.pk is None:
            return True
        stored = FeeSchedule.objects.filter(pk=self.pk).values_list("effective_at", flat=True)
        return stored.first() != self.effective_at


class MarketRulesQuerySet(models.QuerySet["MarketRules"]):
    def in_force(self, market: Market, at: datetime | None = None) -> "MarketRules | None":
        at = at or timezone.now()
        return self.filter(market=market, effective_at__lte=at).order_by("-effective_at").first()


class MarketRules(models.Model):
    """A market's trading rules from `effective_at` on (the latest started one is in
    force, like FeeSchedule). Rules apply to new orders and fills; orders already open
    stay on the book as placed (docs/markets.md)."""

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="rules_history")
    price_tick = models.DecimalField(
        max_digits=78,
        decimal_places=36,
        default=0,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Prices (BASE per QUOTE) must be multiples of it; 0: any price.",
    )
    amount_step = AmountField(
        default=0, help_text="QUOTE amounts must be multiples of it, in base units; 0: any."
    )
    min_total = AmountField(
        "minimum order total",
        default=0,
        help_text="The smallest order, and the smallest remainder a fill may leave, in BASE "
        "base units; 0: no minimum.",
    )
    max_open_orders = models.PositiveIntegerField(
        "maximum open orders per account", default=0, help_text="0: no limit."
    )
    effective_at = models.DateTimeField(
        default=timezone.now, help_text="The latest rules that have taken effect are in force."
    )
    created_by = models.CharField(max_length=150, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MarketRulesQuerySet.as_manager()

    class Meta:
        verbose_name = "market rules"
        verbose_name_plural = "market rules"
        ordering = ["market_id", "-effective_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["market", "effective_at"], name="market_rules_unique_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.market_id} rules from {self.effective_at:%Y-%m-%d %H:%M}"

    @property
    def has_taken_effect(self) -> bool:
        return self.effective_at <= timezone.now()

    def clean(self) -> None:
        # As FeeSchedule: never in the past (orders placed since were checked under the
        # rules in force); a start that has just passed means now.
        if self.effective_at is None or not (self._state.adding or self.pk is None):
            return
        now = timezone.now()
        if self.effective_at >= now:
            return
        if now - self.effective_at <= FEE_SCHEDULE_FORM_GRACE:
            self.effective_at = now
            return
        raise ValidationError(
            {"effective_at": "Rules cannot start in the past. Choose now or a later time."}
        )


class Maintenance(models.Model):
    """An exchange-wide read-only period: while one is open (ended_at empty) every write
    is refused with code 102; reads are served."""

    reason = models.TextField(help_text="Shown to clients in the refusal.")
    started_at = models.DateTimeField(default=timezone.now)
    started_by = models.CharField(max_length=150, blank=True, editable=False)
    ended_at = models.DateTimeField(null=True, blank=True, editable=False)
    ended_by = models.CharField(max_length=150, blank=True, editable=False)

    class Meta:
        ordering = ["-started_at"]
        verbose_name_plural = "maintenance periods"
        constraints = [
            models.UniqueConstraint(
                fields=["ended_at"],
                condition=models.Q(ended_at__isnull=True),
                name="maintenance_one_open",
                violation_error_message="A maintenance period is already open: end it first.",
            ),
        ]

    def __str__(self) -> str:
        state = "open" if self.ended_at is None else f"ended {self.ended_at:%Y-%m-%d %H:%M}"
        return f"Maintenance from {self.started_at:%Y-%m-%d %H:%M} ({state})"

    def clean(self) -> None:
        # The unique constraint above lets NULLs repeat on PostgreSQL: this is the check.
        if self.pk is None and Maintenance.objects.filter(ended_at__isnull=True).exists():
            raise ValidationError("A maintenance period is already open: end it first.")
