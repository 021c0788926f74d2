"""What operators see of the chain workers: the watcher's cursor (edit it to rescan from
an earlier block), the block hashes it keeps, deposits in unknown tokens, operator nonces;
and, on the exchange's network list, each network's last reconciliation."""

from django.contrib import admin
from django.http import HttpRequest

from chain.models import (
    ChainBlock,
    OperatorNonce,
    ReconciliationRun,
    UnknownTokenDeposit,
    WatcherCursor,
)
from exchange.admin.reference import NetworkAdmin
from exchange.models import Network

# The exchange app registers its NetworkAdmin first (INSTALLED_APPS order); this one adds
# the chain's column to it, so the exchange admin never reads chain/ (docs/architecture.md).
admin.site.unregister(Network)


@admin.register(Network)
class ChainNetworkAdmin(NetworkAdmin):
    list_display = (  # type: ignore[assignment]  # one column more than the base's tuple type
        *NetworkAdmin.list_display[:5],
        "last_reconciliation",
        *NetworkAdmin.list_display[5:],
    )

    @admin.display(description="last reconciliation")
    def last_reconciliation(self, obj: Network) -> str:
        run = ReconciliationRun.objects.filter(network=obj).first()
        if run is None:
            return "never"
        state = {True: "ok", False: "DIFFERENCES", None: "running"}[run.ok]
        return f"{state} ({run.started_at:%Y-%m-%d %H:%M})"


@admin.register(WatcherCursor)
class WatcherCursorAdmin(admin.ModelAdmin[WatcherCursor]):
    list_display = ("network", "start_block", "block_number", "block_hash", "updated_at")
    readonly_fields = ("block_hash", "updated_at")


@admin.register(ChainBlock)
class ChainBlockAdmin(admin.ModelAdmin[ChainBlock]):
    list_display = ("network", "number", "hash", "created_at")
    list_filter = ("network",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ChainBlock | None = None) -> bool:
        return False


@admin.register(UnknownTokenDeposit)
class UnknownTokenDepositAdmin(admin.ModelAdmin[UnknownTokenDeposit]):
    list_display = ("network", "token_address", "account", "amount", "block_number", "created_at")
    list_filter = ("network",)
    search_fields = ("token_address", "account", "transaction_hash")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: UnknownTokenDeposit | None = None
    ) -> bool:
        return False


@admin.register(OperatorNonce)
class OperatorNonceAdmin(admin.ModelAdmin[OperatorNonce]):
    list_display = ("network", "address", "next_nonce", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: OperatorNonce | None = None) -> bool:
        return False


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(admin.ModelAdmin[ReconciliationRun]):
    """The ledger compared with the contract (beat's `reconcile`, or `manage.py reconcile`):
    read-only. `differences` lists each mismatch as JSON; see the README."""

    list_display = (
        "started_at",
        "network",
        "ok",
        "block_number",
        "balances_checked",
        "difference_count",
        "error",
    )
    list_filter = ("ok", "network")
    readonly_fields = (
        "network",
        "started_at",
        "finished_at",
        "ok",
        "block_number",
        "balances_checked",
        "differences",
        "error",
    )

    @admin.display(description="differences")
    def difference_count(self, obj: ReconciliationRun) -> int:
        return len(obj.difference_list)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: ReconciliationRun | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: ReconciliationRun | None = None
    ) -> bool:
        return False
