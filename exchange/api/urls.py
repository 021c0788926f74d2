from django.urls import path

from exchange.api.views import balances, market_data, orders, reference, trades, transfers

urlpatterns = [
    path("tokens", reference.TokenListView.as_view(), name="tokens"),
    path("markets", reference.MarketListView.as_view(), name="markets"),
    path(
        "helpers/return_contract_address",
        reference.ContractAddressView.as_view(),
        name="contract-address",
    ),
    path("get_fee_info", reference.FeeInfoView.as_view(), name="fee-info"),
    path("create_orders", orders.CreateOrderView.as_view(), name="create-orders"),
    path("get_orders", orders.GetOrdersView.as_view(), name="get-orders"),
    path("delete_orders", orders.DeleteOrderView.as_view(), name="delete-orders"),
    path("cancel_all_orders", orders.CancelAllView.as_view(), name="cancel-all-orders"),
    path("get_orderbook", orders.OrderBookView.as_view(), name="orderbook"),
    path("accounts/<str:address>", balances.AccountBalancesView.as_view(), name="account-balances"),
    path("balances", balances.BalancesView.as_view(), name="balances"),
    path("create_trades", trades.CreateTradesView.as_view(), name="create-trades"),
    path("get_trades", trades.GetTradesView.as_view(), name="get-trades"),
    path("get_ticker", market_data.TickerView.as_view(), name="ticker"),
    path("get_chart_data", market_data.ChartDataView.as_view(), name="chart-data"),
    path("get_transfers", transfers.GetTransfersView.as_view(), name="get-transfers"),
    path("create_transfers", transfers.CreateTransfersView.as_view(), name="create-transfers"),
]
