"""exchange.api.fields.parse: its fast path (each field's to_internal_value called
directly) gives what the DRF serializer gives, for valid input and for every kind of bad
input, whose error (message, code, the fields named) is the serializer's own."""

import pytest
from rest_framework import serializers

from exchange.api import fields
from exchange.api.fields import parse
from exchange.api.views.orders import CreateOrderInput, DeleteOrderInput
from exchange.api.views.trades import CreateTradeInput

ADDRESS = "0x" + "Ab" * 20
HASH = "0x" + "cD" * 32
SIGNATURE = "0x" + "1f" * 65

ORDER = {
    "account": ADDRESS,
    "giveTokenAddress": "0x" + "00" * 20,
    "giveAmount": "1000000000000000000",
    "takeTokenAddress": "0x" + "00" * 19 + "01",
    "takeAmount": 5,
    "nonce": "0",
    "expiryTimestampInMilliseconds": "1700000000000",
    "signature": SIGNATURE,
}


def _drf(serializer_class, params):
    serializer = serializer_class(data=params)
    if serializer.is_valid():
        return "valid", dict(serializer.validated_data)
    return "invalid", serializer.errors


def _ours(serializer_class, params):
    try:
        return "valid", dict(parse(serializer_class, params))
    except serializers.ValidationError as exc:
        return "invalid", exc.detail


def _same(serializer_class, params):
    ours, theirs = _ours(serializer_class, params), _drf(serializer_class, params)
    assert ours == theirs
    # The same codes as well as the same messages (ErrorDetail compares its text only).
    if ours[0] == "invalid":
        assert {k: [e.code for e in v] for k, v in ours[1].items()} == {
            k: [e.code for e in v] for k, v in theirs[1].items()
        }
    return ours


VALID = [
    pytest.param(ORDER, id="order"),
    pytest.param({**ORDER, "signatureType": "eip712"}, id="eip712"),
    pytest.param({**ORDER, "orderHash": HASH}, id="with-hash"),
    pytest.param({**ORDER, "nonce": 7, "giveAmount": "000123"}, id="int-and-zeros"),
    pytest.param({**ORDER, "unknown": "ignored", "networkId": "1"}, id="extra-keys"),
    pytest.param({**ORDER, "takeAmount": str(2**256 - 1)}, id="uint256-max"),
    pytest.param({**ORDER, "expiryTimestampInMilliseconds": str(2**63 - 1)}, id="expiry-max"),
]

INVALID = [
    pytest.param({k: v for k, v in ORDER.items() if k != "account"}, id="missing"),
    pytest.param({**ORDER, "account": None}, id="null"),
    pytest.param({**ORDER, "account": "0x12"}, id="bad-address"),
    pytest.param({**ORDER, "giveAmount": "0"}, id="zero-amount"),
    pytest.param({**ORDER, "takeAmount": str(2**256)}, id="over-uint256"),
    pytest.param({**ORDER, "nonce": "1" * 80}, id="too-many-digits"),
    pytest.param({**ORDER, "nonce": "-1"}, id="negative"),
    pytest.param({**ORDER, "nonce": True}, id="bool-nonce"),
    pytest.param({**ORDER, "nonce": 1.5}, id="float-nonce"),
    pytest.param({**ORDER, "expiryTimestampInMilliseconds": str(2**63)}, id="expiry-over"),
    pytest.param({**ORDER, "orderHash": "0x12"}, id="bad-hash"),
    pytest.param({**ORDER, "signature": "0x00"}, id="bad-signature"),
    pytest.param({**ORDER, "signatureType": "other"}, id="bad-signature-type"),
    pytest.param({**ORDER, "signatureType": ["eip712"]}, id="list-signature-type"),
    pytest.param({**ORDER, "account": ["0x12"], "nonce": "x"}, id="two-errors"),
    pytest.param({}, id="empty"),
]


@pytest.mark.parametrize("params", VALID)
def test_valid_orders_parse_as_the_serializer_does(params):
    status, data = _same(CreateOrderInput, params)
    assert status == "valid"
    assert data["account"] == params["account"].lower()
    assert data["signatureType"] == params.get("signatureType", "eth_sign")
    assert ("orderHash" in data) == ("orderHash" in params)
    assert "unknown" not in data


@pytest.mark.parametrize("params", INVALID)
def test_invalid_orders_fail_as_the_serializer_does(params):
    status, errors = _same(CreateOrderInput, params)
    assert status == "invalid"
    assert errors


def test_the_fast_path_is_taken_for_valid_input(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the serializer ran")

    monkeypatch.setattr(CreateOrderInput, "is_valid", refuse)
    assert parse(CreateOrderInput, dict(ORDER))["nonce"] == 0


def test_an_error_found_by_the_fast_path_is_the_serializers_own():
    with pytest.raises(serializers.ValidationError) as caught:
        parse(CreateOrderInput, {**ORDER, "giveAmount": "0"})
    (error,) = caught.value.detail["giveAmount"]
    assert error.code == int(fields.FieldCode.OUT_OF_RANGE)
    assert str(error) == "must be at least 1, got 0"


@pytest.mark.parametrize("serializer_class", [CreateTradeInput, DeleteOrderInput])
def test_other_signed_inputs(serializer_class):
    good = {
        "account": ADDRESS,
        "amount": "10",
        "orderHash": HASH,
        "nonce": "3",
        "signature": SIGNATURE,
    }
    assert _same(serializer_class, good)[0] == "valid"
    assert _same(serializer_class, {**good, "nonce": "three"})[0] == "invalid"


class _WithValidate(serializers.Serializer):
    nonce = fields.UintField()

    def validate(self, attrs):
        raise serializers.ValidationError("no")


class _WithCharField(serializers.Serializer):
    market = serializers.CharField(max_length=3)


def test_serializers_the_fast_path_cannot_follow_run_as_before():
    assert fields._plan(_WithValidate) is None
    assert fields._plan(_WithCharField) is None
    assert fields._plan(CreateOrderInput) is not None
    assert _same(_WithValidate, {"nonce": "1"})[0] == "invalid"
    assert _same(_WithCharField, {"market": "ABCD"})[0] == "invalid"
    assert _same(_WithCharField, {"market": " A "}) == ("valid", {"market": "A"})


def test_a_non_dict_is_left_to_the_serializer():
    assert _same(CreateOrderInput, ["not", "a", "dict"])[0] == "invalid"
