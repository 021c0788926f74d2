import pytest
from django.db import transaction

from exchange.models import Balance, LedgerEntry, LedgerKind
from exchange.services.deposits import deposit_credit, deposits_credit

pytestmark = pytest.mark.django_db

ACCOUNT = "0x" + "5a" * 20


def test_it_credits_a_deposit_with_its_ledger_entry(token):
    entry = deposit_credit(
        token=token, account=ACCOUNT.upper().replace("0X", "0x"), amount=7, reference="deposit:1"
    )
    balance = Balance.objects.get(account=ACCOUNT, token=token)
    assert (balance.total, balance.held) == (7, 0)
    assert (entry.kind, entry.total_delta, entry.total_after, entry.reference) == (
        LedgerKind.DEPOSIT,
        7,
        7,
        "deposit:1",
    )


def test_it_credits_a_reference_only_once(token):
    first = deposit_credit(token=token, account=ACCOUNT, amount=7, reference="deposit:1")
    again = deposit_credit(token=token, account=ACCOUNT, amount=7, reference="deposit:1")
    deposit_credit(token=token, account=ACCOUNT, amount=5, reference="deposit:2")
    assert again == first
    assert Balance.objects.get(account=ACCOUNT, token=token).total == 12
    assert LedgerEntry.objects.filter(kind=LedgerKind.DEPOSIT).count() == 2


def test_it_credits_amounts_up_to_2_256_minus_1_exactly(token):
    deposit_credit(token=token, account=ACCOUNT, amount=2**256 - 1, reference="big")
    assert Balance.objects.get(account=ACCOUNT, token=token).total == 2**256 - 1


@pytest.mark.parametrize(("amount", "reference"), [(0, "r"), (-1, "r"), (1, "")])
def test_it_refuses_a_non_positive_amount_or_no_reference(token, amount, reference):
    with pytest.raises(ValueError):
        deposit_credit(token=token, account=ACCOUNT, amount=amount, reference=reference)
    assert not LedgerEntry.objects.exists()


def test_large_balances_add_up_exactly(token):
    # Decimal arithmetic would round these to 28 significant digits.
    deposit_credit(token=token, account=ACCOUNT, amount=10**60 + 1, reference="a")
    deposit_credit(token=token, account=ACCOUNT, amount=10**60 + 2, reference="b")
    balance = Balance.objects.get(account=ACCOUNT, token=token)
    assert balance.total == 2 * 10**60 + 3
    assert balance.available == 2 * 10**60 + 3


OTHER = "0x" + "6b" * 20


def test_many_deposits_are_credited_in_one_call_each_reference_once(token):
    credits = [
        (token.id, ACCOUNT, 7, "deposit:1"),
        (token.id, OTHER.upper().replace("0X", "0x"), 2**256 - 2, "deposit:2"),
        (token.id, ACCOUNT, 5, "deposit:3"),
    ]
    with transaction.atomic():
        deposits_credit(network=token.network, credits=credits)
    with transaction.atomic():  # a repeat, and one new deposit
        entries = deposits_credit(
            network=token.network, credits=[*credits, (token.id, OTHER, 1, "deposit:4")]
        )

    assert [e.reference for e in entries] == ["deposit:4"]
    assert Balance.objects.get(account=ACCOUNT, token=token).total == 12
    assert Balance.objects.get(account=OTHER, token=token).total == 2**256 - 1
    afters = LedgerEntry.objects.filter(balance__account=ACCOUNT).order_by("id")
    assert [int(e.total_after) for e in afters] == [7, 12]


@pytest.mark.parametrize(("amount", "reference"), [(0, "r"), (-1, "r"), (1, "")])
def test_bulk_credits_refuse_a_non_positive_amount_or_no_reference(token, amount, reference):
    with pytest.raises(ValueError), transaction.atomic():
        deposits_credit(
            network=token.network,
            credits=[(token.id, OTHER, 3, "deposit:1"), (token.id, ACCOUNT, amount, reference)],
        )
    assert not LedgerEntry.objects.exists()
    assert not Balance.objects.filter(total__gt=0).exists()
