"""Per-account restrictions the chain workers raise: a deep-reorg freeze, an escape-hatch
exposure. The API reads them in one query per write request (exchange/services/account_guard.py)."""

from typing import ClassVar

from django.db import models

from exchange.models.fields import AddressField
from exchange.models.reference import Network
from exchange.models.transfers import Transfer


class RestrictionKind(models.TextChoices):
    # A credited deposit whose block left the chain (a reorg deeper than the confirmations):
    # new orders, fills and withdrawals of the account are refused until an operator resolves it.
    FROZEN = "FROZEN", "Frozen: a credited deposit left the chain"
    # The account could soon call the contract's escape hatch withdraw() (no activity for
    # nearly inactivityReleasePeriod blocks): its orders and fills are checked against what
    # the contract can still pay it.
    ESCAPE_HATCH = "ESCAPE_HATCH", "Escape hatch open or near"
    # An operator's freeze (admin action): open orders cancelled, new orders, fills and
    # withdrawals refused (code 102) until unfrozen; deposits are still credited.
    OPERATOR = "OPERATOR", "Frozen by an operator"


class AccountRestriction(models.Model):
    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="+")
    account = AddressField()
    kind = models.CharField(max_length=12, choices=RestrictionKind)
    reason = models.TextField()
    # FROZEN: the deposit that left the chain.
    transfer = models.ForeignKey(
        Transfer, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)
    # OPERATOR: who froze and who unfroze (the admin user's name).
    created_by = models.CharField(max_length=150, blank=True, db_default="")
    resolved_by = models.CharField(max_length=150, blank=True, db_default="")

    class Meta:
        ordering = ["-id"]
        constraints = [
            # One open restriction per deposit, and one open escape-hatch row per account.
            models.UniqueConstraint(
                fields=["transfer"],
                condition=models.Q(resolved_at__isnull=True, transfer__isnull=False),
                name="account_restriction_unique_open_transfer",
            ),
            models.UniqueConstraint(
                fields=["network", "account", "kind"],
                condition=models.Q(resolved_at__isnull=True, transfer__isnull=True),
                name="account_restriction_unique_open_account",
            ),
        ]
        indexes = [
            models.Index(
                fields=["network", "account"],
                condition=models.Q(resolved_at__isnull=True),
                name="account_restriction_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.kind}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class OperatorFreezeManager(models.Manager["OperatorFreeze"]):
    def get_queryset(self) -> "models.QuerySet[OperatorFreeze]":
        return super().get_queryset().filter(kind=RestrictionKind.OPERATOR)


class OperatorFreeze(AccountRestriction):
    """The operator's freezes (kind OPERATOR), for their own admin page."""

    objects: ClassVar[OperatorFreezeManager] = OperatorFreezeManager()

    class Meta:
        proxy = True
        verbose_name = "operator freeze"
