import time
from datetime import UTC, datetime

import pytest

from exchange.models import Balance, Transfer, TransferKind, TransferStatus
from exchange.protocol.hashing import withdraw_hash
from tests.factories import DepositFactory
from tests.signing import address_of, new_signer, signed_withdrawal

pytestmark = pytest.mark.django_db


def withdrawal_payload(signer, *, network, token, amount, nonce=None, signed_by=None) -> dict:
    return signed_withdrawal(
        signer,
        contract=network.exchange_address,
        token=token,
        amount=amount,
        nonce=nonce,
        signed_by=signed_by,
        account=signer.address,  # checksummed: any case is accepted
    )


def errors_of(response) -> list[tuple[str, int]]:
    return [(e["field"], e["code"]) for e in response.json()["validationErrors"]]


def test_create_transfers_holds_the_amount_and_answers_success(api, network, token, fund):
    signer = new_signer()
    fund(signer, token, 1000)

    response = api.post(
        "/create_transfers",
        withdrawal_payload(signer, network=network, token=token, amount=250),
        format="json",
    )

    assert (response.status_code, response.json()) == (200, {"success": "0"})
    withdrawal = Transfer.objects.get(kind=TransferKind.WITHDRAWAL)
    assert (withdrawal.status, withdrawal.account) == (TransferStatus.PENDING, address_of(signer))
    assert Balance.objects.get(account=address_of(signer), token=token).held == 250


def test_create_transfers_refuses_a_withdrawal_over_the_available_balance(
    api, network, token, fund
):
    signer = new_signer()
    fund(signer, token, 1000)

    response = api.post(
        "/create_transfers",
        withdrawal_payload(signer, network=network, token=token, amount=1001),
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["code"] == 100
    assert errors_of(response) == [("amount", 1004)]
    assert not Transfer.objects.exists()
    assert Balance.objects.get(account=address_of(signer), token=token).held == 0


def test_create_transfers_refuses_a_replay(api, network, token, fund):
    signer = new_signer()
    fund(signer, token, 1000)
    payload = withdrawal_payload(signer, network=network, token=token, amount=100)
    assert api.post("/create_transfers", payload, format="json").status_code == 200

    response = api.post("/create_transfers", payload, format="json")

    assert response.status_code == 400
    assert errors_of(response) == [("signature", 1005)]
    assert Balance.objects.get(account=address_of(signer), token=token).held == 100


def test_create_transfers_names_the_expected_hash_and_the_recovered_signer(
    api, network, token, fund
):
    signer, thief = new_signer(), new_signer()
    fund(signer, token, 1000)
    payload = withdrawal_payload(signer, network=network, token=token, amount=100, signed_by=thief)

    response = api.post("/create_transfers", payload, format="json")

    assert response.status_code == 400
    [error] = response.json()["validationErrors"]
    assert (error["field"], error["code"]) == ("signature", 1005)
    expected = withdraw_hash(
        contract=network.exchange_address,
        token=token.address,
        amount=100,
        account=address_of(signer),
        nonce=int(payload["nonce"]),
    )
    assert expected in error["reason"] and address_of(thief) in error["reason"]


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("account", "0x123", 1002),
        ("tokenAddress", "nope", 1002),
        ("amount", "1.5", 1001),
        ("amount", "0", 1004),
        ("amount", str(2**256), 1004),
        ("nonce", "-1", 1004),
        ("signature", "0x1234", 1001),
        ("account", None, 1000),
    ],
)
def test_create_transfers_refuses_malformed_fields(api, network, token, fund, field, value, code):
    signer = new_signer()
    fund(signer, token, 1000)
    payload = withdrawal_payload(signer, network=network, token=token, amount=100)
    if value is None:
        del payload[field]
    else:
        payload[field] = value

    response = api.post("/create_transfers", payload, format="json")

    assert response.status_code == 400
    assert (field, code) in errors_of(response)
    assert not Transfer.objects.exists()


def test_create_transfers_refuses_an_unknown_network(api, network, token):
    response = api.post("/create_transfers?networkId=999", {}, format="json")
    assert errors_of(response) == [("networkId", 1006)]


def test_get_transfers_lists_an_accounts_deposits_and_withdrawals(api, network, token, fund):
    signer = new_signer()
    account = address_of(signer)
    deposit = DepositFactory(network=network, token=token, account=account, amount=1000)
    fund(signer, token, 1000)
    api.post(
        "/create_transfers",
        withdrawal_payload(signer, network=network, token=token, amount=300),
        format="json",
    )
    DepositFactory(network=network, token=token)  # someone else's
    withdrawal = Transfer.objects.get(kind=TransferKind.WITHDRAWAL)

    response = api.post("/get_transfers", {"account": signer.address}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["page"], body["per_page"]) == (2, 1, 100)
    assert body["records"] == [
        {
            "id": str(withdrawal.id),
            "type": "withdrawal",
            "token": token.address,
            "amount": "300",
            "status": "PENDING",
            "transactionHash": None,
            "blockHash": None,
            "blockNumber": None,
            "created_at": str(int(withdrawal.created_at.timestamp())),
        },
        {
            "id": str(deposit.id),
            "type": "deposit",
            "token": token.address,
            "amount": "1000",
            "status": "PENDING",
            "transactionHash": deposit.transaction_hash,
            "blockHash": deposit.block_hash,
            "blockNumber": 100,
            "created_at": str(int(deposit.created_at.timestamp())),
        },
    ]


def test_get_transfers_keeps_to_the_millisecond_range_inclusive(api, network, token):
    account = "0x" + "ac" * 20
    old, new = (DepositFactory(network=network, token=token, account=account) for _ in range(2))
    Transfer.objects.filter(id=old.id).update(created_at=datetime(2020, 1, 1, tzinfo=UTC))
    boundary_ms = 1577836800000  # 2020-01-01T00:00:00Z

    def ids(**params):
        response = api.post("/get_transfers", {"account": account, **params}, format="json")
        return [record["id"] for record in response.json()["records"]]

    assert ids() == [str(new.id), str(old.id)]
    assert ids(endingTimestampInMilliseconds=str(boundary_ms)) == [str(old.id)]
    assert ids(endingTimestampInMilliseconds=str(boundary_ms - 1)) == []
    assert ids(startingTimestampInMilliseconds=str(boundary_ms + 1)) == [str(new.id)]
    later = int(time.time() * 1000) + 60_000
    assert (
        ids(
            startingTimestampInMilliseconds=str(later), endingTimestampInMilliseconds=str(later + 1)
        )
        == []
    )


def test_get_transfers_paginates(api, network, token):
    account = "0x" + "ac" * 20
    made = [DepositFactory(network=network, token=token, account=account) for _ in range(3)]

    response = api.post("/get_transfers?page=2&per_page=2", {"account": account}, format="json")

    body = response.json()
    assert (body["total"], body["page"], body["per_page"]) == (3, 2, 2)
    assert [record["id"] for record in body["records"]] == [str(made[0].id)]
    assert 'rel="prev"' in response["Link"]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({}, ("account", 1000)),
        ({"account": "0xnope"}, ("account", 1002)),
        (
            {"account": "0x" + "ac" * 20, "startingTimestampInMilliseconds": "x"},
            ("startingTimestampInMilliseconds", 1001),
        ),
        (
            {
                "account": "0x" + "ac" * 20,
                "startingTimestampInMilliseconds": "10",
                "endingTimestampInMilliseconds": "9",
            },
            ("startingTimestampInMilliseconds", 1004),
        ),
    ],
)
def test_get_transfers_refuses_bad_parameters(api, network, params, error):
    response = api.post("/get_transfers", params, format="json")
    assert response.status_code == 400
    assert errors_of(response) == [error]
