"""The operator dashboard under the admin: /admin/dashboard/."""

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from exchange.models import Market, MarketStatus, Network
from exchange.selectors.dashboard_charts import dashboard_charts_get
from exchange.services.operations import market_status_set, network_order_submission_set
from exchange.services.trade_settlement import settlement_resume
from exchange.services.withdrawal_retry import WithdrawalRetryRefused, withdrawal_retry
from relayer.dashboard.figures import dashboard_get
from relayer.replica import replica_state


def _act(request: HttpRequest) -> None:
    action = request.POST.get("action")
    operator = request.user.get_username()
    if action == "market_status":
        if not request.user.has_perm("exchange.change_market"):
            raise PermissionDenied
        market = get_object_or_404(Market, pk=request.POST.get("market"))
        status = request.POST.get("status")
        if status not in MarketStatus.values:
            messages.error(request, f"Unknown market status {status!r}.")
            return
        market_status_set(market=market, status=MarketStatus(status), operator=operator)
        messages.success(request, f"{market.name} is now {MarketStatus(status).label}.")
    elif action == "order_submission":
        if not request.user.has_perm("exchange.change_network"):
            raise PermissionDenied
        network = get_object_or_404(Network, pk=request.POST.get("network"))
        enabled = request.POST.get("enabled") == "1"
        network_order_submission_set(network=network, enabled=enabled, operator=operator)
        state = "enabled" if enabled else "disabled"
        messages.success(request, f"Order submission {state} on {network}.")
    elif action == "settlement_resume":
        if not request.user.has_perm("exchange.change_network"):
            raise PermissionDenied
        network = get_object_or_404(Network, pk=request.POST.get("network"))
        if settlement_resume(network_id=network.id):
            messages.success(
                request,
                f"Settlement resumed on {network}. FAILED trades stay FAILED unless retried "
                "(Trades: 'Retry settlement').",
            )
        else:
            messages.info(request, f"Settlement was not halted on {network}.")
    elif action == "withdrawal_retry":
        if not request.user.has_perm("exchange.change_transfer"):
            raise PermissionDenied
        withdrawal_id = request.POST.get("withdrawal", "")
        if not withdrawal_id.isdigit():
            messages.error(request, "No withdrawal given.")
            return
        try:
            outcome = withdrawal_retry(withdrawal_id=int(withdrawal_id), operator=operator)
        except WithdrawalRetryRefused as refused:
            messages.error(request, f"Withdrawal {withdrawal_id} not retried: {refused}")
        else:
            messages.success(request, f"Withdrawal {withdrawal_id}: {outcome}.")
    else:
        messages.error(request, "Unknown action.")


@staff_member_required
@require_http_methods(["GET", "POST"])
def dashboard(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        _act(request)
        return HttpResponseRedirect(reverse("operator-dashboard"))
    now = timezone.now()
    figures = dashboard_get(now=now)
    context = {
        **admin.site.each_context(request),
        "title": "Operator dashboard",
        "statuses": MarketStatus.choices,
        "now": now,
        "replica": replica_state(),
        **figures,
    }
    context.update(dashboard_charts_get(now=now, markets=figures["markets"]))
    return TemplateResponse(request, "admin/dashboard.html", context)
