"""Account restrictions the chain workers raise: deep-reorg freezes (resolved here by an
operator) and escape-hatch exposures (kept up to date by the workers)."""

from django.contrib import admin, messages

from exchange.admin.money import ReadOnlyAdmin, short_hex
from exchange.models import AccountRestriction, RestrictionKind
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
