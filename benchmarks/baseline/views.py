from rest_framework.response import Response
from rest_framework.views import APIView

from chain.signatures import recover_signer
from exchange.models import Balance


class TinyView(APIView):
    def get(self, request):
        return Response({"ok": True})


class RecoverView(APIView):
    def post(self, request):
        return Response({"signer": recover_signer(request.data["hash"], request.data["signature"])})


class RowView(APIView):
    def get(self, request, pk: int):
        balance = Balance.objects.get(pk=pk)
        return Response(
            {"account": balance.account, "total": str(balance.total), "held": str(balance.held)}
        )
