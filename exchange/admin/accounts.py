"""Account restrictions the chain workers raise: deep-reorg freezes (resolved here by an
operator) and escape-hatch exposures (kept up to date by the workers)."""

from django.contrib import admin, messages

from exchange.admin.money import ReadOnlyAdmin, short_hex
from exchange.models import AccountRestriction, OperatorFreeze, RestrictionKind
from exchange.services.account_controls import account_freeze, account_unfreeze
from exchange.services.deep_reorgs import (
    ReorgResolutionRefused,
    deposit_reorg_undo,
    freeze_lift,
    reorg_undo_plan,
)


@admin.register(AccountRestriction)
class AccountRestrictionAdmin(ReadOnlyAdmin):
    """An open FROZEN row stops the account's orders, fills and withdrawals. Resolve it
    with "Undo the deposit" (the ledger entries shown in `undo`) or, when the deposit's
    transaction is on the chain after all (mined again in another block), "Lift the freeze"."""

    list_display = (
        "id",
        "kind",
        "network",
        "account_short",
        "transfer",
        "reason",
        "undo",
        "created_at",
        "resolved_at",
        "resolution",
    )
    list_filter = ("kind", ("resolved_at", admin.EmptyFieldListFilter), "network")
    exact_search_fields = ("account",)
    list_select_related = ("transfer", "network")
    actions = ["undo_deposit", "lift_freeze"]

    def has_resolve_permission(self, request) -> bool:
        return request.user.has_perm("exchange.change_accountrestriction")

    @admin.display(description="account", ordering="account")
    def account_short(self, obj: AccountRestriction):
        return short_hex(obj.account)

    @admin.display(description="undo (ledger entries ready)")
    def undo(self, obj: AccountRestriction):
        if obj.kind != RestrictionKind.FROZEN or not obj.is_open or obj.transfer is None:
            return "-"
        return str(reorg_undo_plan(restriction=obj))

    @admin.action(
        description="Undo the deposit: apply the ledger entries, lift the freeze",
        permissions=["resolve"],
    )
    def undo_deposit(self, request, queryset):
        self._resolve(request, queryset, deposit_reorg_undo, "deposit(s) undone")

    @admin.action(
        description="Lift the freeze: the deposit stays credited (it is on chain)",
        permissions=["resolve"],
    )
    def lift_freeze(self, request, queryset):
        self._resolve(request, queryset, freeze_lift, "freeze(s) lifted")

    def _resolve(self, request, queryset, resolve, done: str) -> None:
        count = 0
        open_freezes = queryset.filter(kind=RestrictionKind.FROZEN, resolved_at__isnull=True)
        for restriction in open_freezes:
            try:
                resolve(restriction_id=restriction.id)
            except ReorgResolutionRefused as refusal:
                self.message_user(request, str(refusal), level=messages.ERROR)
            else:
                count += 1
        self.message_user(request, f"{count} {done}.")


@admin.register(OperatorFreeze)
class OperatorFreezeAdmin(admin.ModelAdmin):
    """Freeze an account: add one (network, account, reason). Its open orders are
    cancelled and their holds released; its orders, trades and withdrawals are refused
    (code 102) until the action "Unfreeze". Every freeze stays listed: who, when, why."""

    list_display = (
        "id",
        "network",
        "account",
        "reason",
        "created_by",
        "created_at",
        "resolved_by",
        "resolved_at",
    )
    list_filter = (("resolved_at", admin.EmptyFieldListFilter), "network")
    search_fields = ("account",)
    fields = ("network", "account", "reason")
    actions = ["unfreeze"]

    def has_change_permission(self, request, obj=None):
        return obj is None

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        orders = account_freeze(
            network=obj.network,
            account=obj.account,
            reason=obj.reason,
            by=request.user.get_username(),
        )
        obj.pk = OperatorFreeze.objects.filter(
            network=obj.network, account=obj.account.lower(), resolved_at__isnull=True
        ).values_list("pk", flat=True)[0]
        self.message_user(request, f"Frozen; {len(orders)} open order(s) cancelled.")

    @admin.action(description="Unfreeze (the account trades and withdraws again)")
    def unfreeze(self, request, queryset):
        by = request.user.get_username()
        count = sum(account_unfreeze(restriction=r, by=by) for r in queryset)
        self.message_user(request, f"{count} account(s) unfrozen.")
