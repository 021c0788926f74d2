"""Balances and the append-only ledger: every balance change has its entry."""

from django.db import models
from django.utils import timezone

from exchange.models.fields import AddressField, AmountField
from exchange.models.reference import Network, Token


class Balance(models.Model):
    """An account's funds in one token: total on the exchange, and the held part.

    available = total - held; held covers open orders and pending withdrawals.
    """

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="+")
    account = AddressField()
    token = models.ForeignKey(Token, on_delete=models.PROTECT, related_name="balances")
    total = AmountField(default=0)
    held = AmountField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "token"], name="balance_unique_account_token"
            ),
            models.CheckConstraint(
                condition=models.Q(held__gte=0), name="balance_held_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(total__gte=models.F("held")), name="balance_held_within_total"
            ),
        ]
        indexes = [models.Index(fields=["network", "account"], name="balance_network_account")]

    def __str__(self) -> str:
        return f"{self.account} {self.token.symbol}: {self.total} (held {self.held})"

    @property
    def available(self) -> int:
        # int, not Decimal: Decimal arithmetic rounds to 28 digits; amounts have up to 78.
        return int(self.total) - int(self.held)


class LedgerKind(models.TextChoices):
    DEPOSIT = "DEPOSIT", "Deposit"
    WITHDRAWAL = "WITHDRAWAL", "Withdrawal"
    WITHDRAWAL_FEE = "WITHDRAWAL_FEE", "Withdrawal fee"
    TRADE = "TRADE", "Trade"
    TRADE_FEE = "TRADE_FEE", "Trade fee"
    GAS_FEE = "GAS_FEE", "Settlement gas fee"
    HOLD = "HOLD", "Hold"
    RELEASE = "RELEASE", "Release"


class LedgerEntry(models.Model):
    """One change of one balance, written in the same transaction as the change."""

    balance = models.ForeignKey(Balance, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=16, choices=LedgerKind)
    total_delta = models.DecimalField(max_digits=79, decimal_places=0)
    held_delta = models.DecimalField(max_digits=79, decimal_places=0)
    total_after = AmountField()
    held_after = AmountField()
    # What caused it: an order hash, a trade uuid, a transfer id.
    reference = models.CharField(max_length=80, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["reference"], name="ledger_reference")]

    def __str__(self) -> str:
        return f"{self.kind} {self.total_delta:+} / held {self.held_delta:+}"


class FeeAccrual(models.Model):
    """A fee a trade owes the fee account, not yet in its balance (append-only).

    Trades write these instead of locking the fee account's balance row, which every
    trade in every market would otherwise wait for; exchange/services/fees.py rolls
    them up into that balance (one ledger entry each, as the trade would have written)
    and deletes them, in one transaction.
    """

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="+")
    token = models.ForeignKey(Token, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=LedgerKind)
    amount = models.DecimalField(max_digits=79, decimal_places=0)
    reference = models.CharField(max_length=80)  # the trade's uuid
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="fee_accrual_positive")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} of token {self.token_id}"
