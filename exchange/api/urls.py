from django.urls import path

from exchange.api.views import reference, transfers

urlpatterns = [
    path("tokens", reference.TokenListView.as_view(), name="tokens"),
    path(
        "helpers/return_contract_address",
        reference.ContractAddressView.as_view(),
        name="contract-address",
    ),
    path("get_fee_info", reference.FeeInfoView.as_view(), name="fee-info"),
    path("get_transfers", transfers.GetTransfersView.as_view(), name="get-transfers"),
    path("create_transfers", transfers.CreateTransfersView.as_view(), name="create-transfers"),
]
