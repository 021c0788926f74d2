"""Deposits seen on chain and withdrawals requested by signed messages."""

from django.db import models

from exchange.models.fields import AddressField, AmountField, HashField, signature_type_field
from exchange.models.reference import Network, Token


class TransferKind(models.TextChoices):
    DEPOSIT = "deposit", "Deposit"
    WITHDRAWAL = "withdrawal", "Withdrawal"
    # Made by the user on the contract (the escape hatch `withdraw()`), not through the
    # relayer: read from its Withdraw event, debited once confirmed (chain/watcher.py).
    DIRECT = "direct", "Direct withdrawal (escape hatch)"


class TransferStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    PROCESSING = "PROCESSING", "Processing"
    COMPLETE = "COMPLETE", "Complete"
    FAILED = "FAILED", "Failed"


class Transfer(models.Model):
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=TransferKind)
    account = AddressField()
    token = models.ForeignKey(Token, on_delete=models.PROTECT, related_name="transfers")
    amount = AmountField()
    fee = AmountField(default=0)
    status = models.CharField(max_length=10, choices=TransferStatus, default=TransferStatus.PENDING)
    # Withdrawals: the signed withdrawHash and its nonce.
    hash = HashField(null=True, blank=True, unique=True)
    nonce = AmountField(null=True, blank=True)
    signature = models.CharField(max_length=132, blank=True)
    signature_type = signature_type_field()
    # On chain: the deposit's log, or the withdrawal's transaction once sent.
    transaction_hash = HashField(blank=True)
    block_hash = HashField(blank=True)
    block_number = models.PositiveBigIntegerField(null=True, blank=True)
    log_index = models.PositiveIntegerField(null=True, blank=True)
    # Withdrawals: the operator's signed adminWithdraw transaction, stored (with its
    # nonce and hash) before it is broadcast, so an unknown outcome can be looked up
    # and the very same transaction sent again instead of a second payment.
    operator_nonce = models.PositiveBigIntegerField(null=True, blank=True)
    raw_transaction = models.TextField(blank=True)
    broadcast_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Direct withdrawals: the part of the amount the ledger could not debit when it was
    # confirmed (it had been sold in trades not yet settled); repaid from the first
    # credits of that balance (a reversed trade), see exchange/services/direct_withdrawals.py.
    shortfall = AmountField(default=0, db_default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["network", "transaction_hash", "log_index"],
                condition=models.Q(kind="deposit"),
                name="deposit_unique_log",
            ),
            models.UniqueConstraint(
                fields=["network", "transaction_hash", "log_index"],
                condition=models.Q(kind="direct"),
                name="direct_withdrawal_unique_log",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "created_at"], name="transfer_account_time"),
            models.Index(
                fields=["network", "kind", "status"],
                condition=models.Q(status__in=["PENDING", "PROCESSING"]),
                name="transfer_in_flight",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.token.symbol} {self.status}"
