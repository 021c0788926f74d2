"""The operator admin of access control: rate-limit policies, API keys, bans."""

from django.contrib import admin, messages
from django.utils import timezone

from exchange.models import ApiKey, Ban, RateLimitPolicy
from exchange.selectors.access import rate_limits_forget
from exchange.services.api_keys import api_key_issue, api_key_revoke, api_key_save
from exchange.services.bans import ban_lift


@admin.register(RateLimitPolicy)
class RateLimitPolicyAdmin(admin.ModelAdmin):
    list_display = ("cost_class", "window_seconds", "ip_limit", "account_limit", "api_key_limit")
    list_editable = ("window_seconds", "ip_limit", "account_limit", "api_key_limit")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        rate_limits_forget()
        messages.info(request, "Other web processes apply the change within RATELIMIT_POLICY_TTL.")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "prefix",
        "allow_trade",
        "allow_user_data",
        "rate_limit_multiplier",
        "created_at",
        "revoked_at",
    )
    list_filter = ("allow_trade", "allow_user_data", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created_at", "revoked_at")
    actions = ["revoke"]

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the key's history stays

    def save_model(self, request, obj, form, change):
        if change:
            api_key_save(api_key=obj)  # new scopes apply at once
            return
        issued, raw_key = api_key_issue(
            name=obj.name,
            allow_trade=obj.allow_trade,
            allow_user_data=obj.allow_user_data,
            rate_limit_multiplier=obj.rate_limit_multiplier,
        )
        obj.pk = issued.pk
        obj.prefix, obj.key_hash, obj.created_at = issued.prefix, issued.key_hash, issued.created_at
        messages.warning(
            request,
            f"The API key for {obj.name} is {raw_key} . Copy it now: it is stored hashed "
            "and will not be shown again.",
        )

    @admin.action(description="Revoke (the key is refused with 401 from now on)")
    def revoke(self, request, queryset):
        for api_key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(api_key=api_key)
        self.message_user(request, "Revoked.")


@admin.register(Ban)
class BanAdmin(admin.ModelAdmin):
    list_display = ("client", "reason", "until", "in_force", "strikes", "updated_at")
    search_fields = ("client",)
    readonly_fields = ("client", "reason", "until", "strikes", "created_at", "updated_at")
    actions = ["lift"]

    @admin.display(boolean=True, description="in force")
    def in_force(self, obj: Ban) -> bool:
        return obj.until > timezone.now()

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # lift instead: the strikes are the escalation's memory

    @admin.action(description="Lift (ends the ban now and forgives its strikes)")
    def lift(self, request, queryset):
        now = timezone.now()
        for ban in queryset:
            ban_lift(ban=ban, now=now)
        self.message_user(request, f"Lifted {queryset.count()} ban(s).")
