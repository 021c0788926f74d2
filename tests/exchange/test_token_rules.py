"""Issue #16: a token's withdrawal minimum and amount precision refuse a withdrawal
exactly at their edge and accept one unit inside it, naming the rule."""

import pytest

from exchange.models import Transfer
from tests.exchange.test_withdrawals import signed_withdrawal
from tests.signing import new_signer
from tests.trading import snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def signer(token, fund):
    signer = new_signer()
    fund(signer, token, 10**20)
    return signer


def test_a_withdrawal_at_the_minimum_is_accepted_and_one_unit_under_it_refused(
    api, network, token, signer
):
    token.withdrawal_minimum = 10**16
    token.save()
    before = snapshot()

    payload = signed_withdrawal(signer, network=network, token=token, amount=10**16 - 1)
    response = api.post("/create_transfers", _body(payload), format="json")

    assert response.status_code == 400
    [error] = response.json()["validationErrors"]
    assert (error["field"], error["code"]) == ("amount", 1004)
    assert "withdrawalMinimum" in error["reason"] and str(10**16) in error["reason"]
    assert snapshot() == before and not Transfer.objects.exists()

    payload = signed_withdrawal(signer, network=network, token=token, amount=10**16)
    assert api.post("/create_transfers", _body(payload), format="json").status_code == 200


def test_a_withdrawal_finer_than_the_tokens_precision_is_refused(api, network, token, signer):
    token.amount_precision = 6  # 18 decimals: multiples of 10**12
    token.save()

    payload = signed_withdrawal(signer, network=network, token=token, amount=10**12 + 1)
    response = api.post("/create_transfers", _body(payload), format="json")

    assert response.status_code == 400
    [error] = response.json()["validationErrors"]
    assert error["field"] == "amount" and "amountPrecision" in error["reason"]
    payload = signed_withdrawal(signer, network=network, token=token, amount=2 * 10**12)
    assert api.post("/create_transfers", _body(payload), format="json").status_code == 200


def _body(payload: dict) -> dict:
    return {
        "account": payload["account"],
        "tokenAddress": payload["token_address"],
        "amount": str(payload["amount"]),
        "nonce": str(payload["nonce"]),
        "signature": payload["signature"],
    }
