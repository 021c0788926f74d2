"""rows_update writes exactly the fields named of exactly the rows given (amounts up to
2^256-1 included), on PostgreSQL in one statement; rows_write adds new rows
in the same statement, all or nothing."""

import uuid
import warnings
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import DataError, IntegrityError, connection, connections, transaction
from django.db.models import Value
from django.test.utils import CaptureQueriesContext

from exchange.models import (
    Balance,
    Candle,
    FeeAccrual,
    LedgerEntry,
    LedgerKind,
    Order,
    OrderStatus,
    StreamCounter,
    Trade,
)
from exchange.models.fields import UINT256_MAX
from exchange.services.rows import Returning, _Prep, rows_update, rows_write
from tests.factories import TokenFactory

pytestmark = pytest.mark.django_db

MOMENT = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def test_it_writes_the_fields_named_of_the_rows_given(network):
    token = TokenFactory(network=network)
    rows = [
        Balance.objects.create(network=network, account="0x" + f"{i:040x}", token=token)
        for i in range(3)
    ]
    first, second, untouched = rows
    first.total, first.held, first.updated_at = UINT256_MAX, UINT256_MAX - 1, MOMENT
    second.total, second.held, second.updated_at = 7, 0, MOMENT
    second.account = "0x" + "ff" * 20  # not a field named: stays as stored

    with CaptureQueriesContext(connection) as captured:
        rows_update([first, second], ["total", "held", "updated_at"])

    if connection.vendor == "postgresql":
        assert len(captured.captured_queries) == 1
    stored = {b.pk: b for b in Balance.objects.all()}
    assert (stored[first.pk].total, stored[first.pk].held) == (UINT256_MAX, UINT256_MAX - 1)
    assert (stored[second.pk].total, stored[second.pk].held) == (7, 0)
    assert stored[first.pk].updated_at == stored[second.pk].updated_at == MOMENT
    assert stored[second.pk].account == "0x" + f"{1:040x}"
    assert (stored[untouched.pk].total, stored[untouched.pk].updated_at) == (
        0,
        untouched.updated_at,
    )


def test_nothing_to_update_sends_nothing(network):
    with CaptureQueriesContext(connection) as captured:
        rows_update([], ["total"])
    assert captured.captured_queries == []


def test_an_update_and_an_insert_go_in_one_statement_and_the_new_rows_get_their_ids(network):
    token = TokenFactory(network=network)
    balance = Balance.objects.create(network=network, account="0x" + "01" * 20, token=token)
    balance.total, balance.updated_at = UINT256_MAX, MOMENT
    entries = [
        LedgerEntry(
            balance=balance,
            kind=LedgerKind.DEPOSIT,
            total_delta=delta,
            held_delta=0,
            total_after=UINT256_MAX,
            held_after=0,
            reference=f"ref{delta % 1000}",
        )
        for delta in (UINT256_MAX, 1)
    ]

    with CaptureQueriesContext(connection) as captured:
        rows_write(updates=[([balance], ["total", "updated_at"])], inserts=[entries])

    if connection.vendor == "postgresql":
        assert len(captured.captured_queries) == 1
    balance.refresh_from_db()
    assert (balance.total, balance.updated_at) == (UINT256_MAX, MOMENT)
    stored = LedgerEntry.objects.order_by("id")
    assert [entry.pk for entry in entries] == [entry.pk for entry in stored]
    assert [(e.total_delta, e.reference) for e in stored] == [
        (UINT256_MAX, f"ref{UINT256_MAX % 1000}"),
        (1, "ref1"),
    ]
    assert all(entry.created_at is not None for entry in stored)


def test_a_violated_constraint_writes_neither(network):
    token = TokenFactory(network=network)
    balance = Balance.objects.create(network=network, account="0x" + "02" * 20, token=token)
    balance.held = 5  # more than the total: balance_held_within_total refuses it
    entry = LedgerEntry(
        balance=balance,
        kind=LedgerKind.HOLD,
        total_delta=0,
        held_delta=5,
        total_after=0,
        held_after=5,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        rows_write(updates=[([balance], ["held"])], inserts=[[entry]])
    balance.refresh_from_db()
    assert balance.held == 0
    assert not LedgerEntry.objects.exists()


@pytest.mark.postgres_only  # SQLite does not enforce a varchar's length
def test_a_value_too_long_for_its_column_is_refused_not_cut(network):
    token = TokenFactory(network=network)
    balance = Balance.objects.create(network=network, account="0x" + "03" * 20, token=token)
    entry = LedgerEntry(
        balance=balance,
        kind=LedgerKind.DEPOSIT,
        total_delta=1,
        held_delta=0,
        total_after=1,
        held_after=0,
        reference="x" * 81,
    )
    balance.total = 1
    with pytest.raises(DataError), transaction.atomic():
        rows_write(updates=[([balance], ["total"])], inserts=[[entry]])
    assert not LedgerEntry.objects.exists()


def test_rows_write_puts_updates_and_several_inserts_in_one_statement(network):
    """rows_write: every part one CTE of one statement; each insert's rows get their ids,
    and rows whose ids are set keep them."""
    token = TokenFactory(network=network)
    balance = Balance.objects.create(network=network, account="0x" + "02" * 20, token=token)
    balance.total, balance.updated_at = 5, MOMENT
    entry = LedgerEntry(
        balance=balance,
        kind=LedgerKind.DEPOSIT,
        total_delta=5,
        held_delta=0,
        total_after=5,
        held_after=0,
        reference="deposit",
    )
    accruals = [
        FeeAccrual(network=network, token=token, kind=LedgerKind.TRADE_FEE, amount=n, reference="t")
        for n in (1, UINT256_MAX)
    ]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence('exchange_feeaccrual', 'id'))")
            accruals[1].id = cursor.fetchone()[0] + 100  # an id given is kept
        accruals[0].id = accruals[1].id - 1

    with CaptureQueriesContext(connection) as captured:
        rows_write(updates=[([balance], ["total", "updated_at"])], inserts=[[entry], accruals])

    if connection.vendor == "postgresql":
        assert len(captured.captured_queries) == 1
    balance.refresh_from_db()
    assert (balance.total, balance.updated_at) == (5, MOMENT)
    assert LedgerEntry.objects.get().pk == entry.pk
    stored = list(FeeAccrual.objects.order_by("id").values_list("id", "amount"))
    assert stored == [(accruals[0].pk, 1), (accruals[1].pk, UINT256_MAX)]


def test_a_constraint_any_part_breaks_writes_nothing(network):
    token = TokenFactory(network=network)
    balance = Balance.objects.create(network=network, account="0x" + "03" * 20, token=token)
    balance.total = 9
    refused = FeeAccrual(network=network, token=token, kind=LedgerKind.GAS_FEE, amount=0)

    with pytest.raises(IntegrityError), transaction.atomic():
        rows_write(updates=[([balance], ["total"])], inserts=[[refused]])

    balance.refresh_from_db()
    assert balance.total == 0 and not FeeAccrual.objects.exists()


@pytest.mark.postgres_only  # statements are PostgreSQL's
def test_returning_statements_get_their_rows_beside_the_new_rows_ids(network):
    token = TokenFactory(network=network)
    balance = Balance.objects.create(network=network, account="0x" + "03" * 20, token=token)
    entry = LedgerEntry(
        balance=balance,
        kind=LedgerKind.DEPOSIT,
        total_delta=UINT256_MAX,
        held_delta=0,
        total_after=UINT256_MAX,
        held_after=0,
    )
    upsert = (
        "INSERT INTO exchange_streamcounter (channel, sequence) VALUES (%s, %s::bigint) "
        "ON CONFLICT (channel) DO UPDATE SET sequence = exchange_streamcounter.sequence + 1 "
    )
    wide = Returning(upsert + "RETURNING channel, sequence", ["1/a", 5], columns=2)
    narrow = Returning(upsert + "RETURNING channel", ["1/b", 7], columns=1)
    plain = (upsert, ["1/c", 9])

    with CaptureQueriesContext(connection) as captured:
        rows_write(inserts=[[entry]], statements=[narrow, plain, wide])

    assert len(captured.captured_queries) == 1
    assert narrow.rows == [("1/b",)]
    assert wide.rows == [("1/a", 5)]
    assert entry.pk == LedgerEntry.objects.get().pk
    assert dict(StreamCounter.objects.values_list("channel", "sequence")) == {
        "1/a": 5,
        "1/b": 7,
        "1/c": 9,
    }


# Values of every type the hot paths write, and some they must leave to Django.
_VALUES = [
    None,
    0,
    7,
    UINT256_MAX,
    -5,
    True,
    Decimal("0.001"),
    Decimal("1E+3"),
    Decimal(UINT256_MAX),
    Decimal("NaN"),
    Decimal("Infinity"),
    1.5,
    "",
    "0xAbCdef",
    "TRADE",
    OrderStatus.FILLED,
    LedgerKind.TRADE,
    MOMENT,
    datetime(2030, 1, 2, 3, 4, 5),  # naive: Django warns and makes it aware
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    Value(1),
]


def _prepared(prepare):
    try:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            value = prepare()
    except Exception as error:  # the same refusal either way
        return ("refused", type(error))
    return (type(value), value)


@pytest.mark.parametrize(
    "model", [Trade, FeeAccrual, LedgerEntry, Balance, Order, Candle], ids=lambda m: m.__name__
)
def test_the_values_written_are_what_get_db_prep_save_gives(model):
    """rows_write's shortcut (rows._Prep) gives every column, for every value, what the
    field's get_db_prep_save gives: the same value of the same type, or the same error."""
    for field in model._meta.concrete_fields:
        prep = _Prep(field)
        for value in _VALUES * 2:  # the second time through the rule found the first
            expected = _prepared(lambda: field.get_db_prep_save(value, connection))  # noqa: B023
            got = _prepared(lambda: prep.value(value, connections["default"]))  # noqa: B023
            assert got == expected, (field, value)
