from django.urls import path

from exchange.api.views import balances, orders, reference, transfers

urlpatterns = [
    path("tokens", reference.TokenListView.as_view(), name="tokens"),
    path(
        "helpers/return_contract_address",
        reference.ContractAddressView.as_view(),
        name="contract-address",
    ),
    path("get_fee_info", reference.FeeInfoView.as_view(), name="fee-info"),
    path("create_orders", orders.CreateOrderView.as_view(), name="create-orders"),
    path("get_orders", orders.GetOrdersView.as_view(), name="get-orders"),
    path("delete_orders", orders.DeleteOrderView.as_view(), name="delete-orders"),
    path("get_orderbook", orders.OrderBookView.as_view(), name="orderbook"),
    path("accounts/<str:address>", balances.AccountBalancesView.as_view(), name="account-balances"),
    path("balances", balances.BalancesView.as_view(), name="balances"),
    path("get_transfers", transfers.GetTransfersView.as_view(), name="get-transfers"),
    path("create_transfers", transfers.CreateTransfersView.as_view(), name="create-transfers"),
]
