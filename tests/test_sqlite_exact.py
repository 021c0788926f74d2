"""relayer/sqlite_exact: SQLite stores, compares and sums DecimalFields exactly.

The encoding tests need no database; the column tests read SQLite's raw text and run
only there (`make test-sqlite`); the concurrency test makes its own SQLite file.
"""

import os
import sqlite3
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import DataError, IntegrityError, NotSupportedError, connection, transaction
from django.db.models import Avg, F, Max, Min, Q, Sum
from hypothesis import given
from hypothesis import strategies as st

from exchange.models import Balance, LedgerEntry, LedgerKind, Order
from exchange.models.fields import UINT256_MAX
from exchange.services.ledger import balance_change, token_balance_lock
from relayer.sqlite_exact.encoding import decode, encode

ROOT = Path(__file__).resolve().parent.parent
sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="reads SQLite's stored text (make test-sqlite)"
)

amounts = st.integers(min_value=0, max_value=UINT256_MAX)
deltas = st.integers(min_value=-(10**79) + 1, max_value=10**79 - 1)
prices = st.decimals(
    min_value=0, max_value=Decimal("9" * 42 + "." + "9" * 36), places=36, allow_nan=False
)


def test_an_amount_is_78_zero_padded_digits():
    assert encode(10**24 + 1, 78, 0) == "0" * 53 + "1" + "0" * 23 + "1"
    assert encode(UINT256_MAX, 78, 0) == str(UINT256_MAX)


def test_a_price_keeps_its_36_places_at_a_fixed_point():
    assert encode(Decimal("1.5"), 78, 36) == "0" * 41 + "1.5" + "0" * 35


@given(amounts)
def test_an_amount_round_trips_exactly(value):
    assert decode(encode(value, 78, 0)) == value


@given(deltas)
def test_a_signed_delta_round_trips_exactly(value):
    assert decode(encode(value, 79, 0)) == value


@given(prices)
def test_a_price_round_trips_exactly(value):
    assert decode(encode(value, 78, 36)) == value


@given(deltas, deltas)
def test_text_order_is_numeric_order_for_signed_values(a, b):
    assert (encode(a, 79, 0) < encode(b, 79, 0)) == (a < b)


@given(prices, prices)
def test_text_order_is_numeric_order_for_prices(a, b):
    assert (encode(a, 78, 36) < encode(b, 78, 36)) == (a < b)


def test_it_rounds_extra_places_half_away_from_zero_like_numeric():
    assert decode(encode(Decimal("2.5"), 10, 0)) == 3
    assert decode(encode(Decimal("-2.5"), 10, 0)) == -3


def test_it_refuses_a_value_wider_than_its_field_like_numeric():
    with pytest.raises(DataError, match="overflow"):
        encode(10**78, 78, 0)


def test_a_value_without_a_field_width_still_round_trips():
    for value in (Decimal("-5"), Decimal("-0.25"), Decimal("12.5"), Decimal(0)):
        assert decode(encode(value)) == value


# On the database in use: exact on both backends, stored as text on SQLite.


def _raw(table: str, column: str, pk: int):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column}, typeof({column}) FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()


@sqlite_only
@pytest.mark.django_db
def test_sqlite_stores_an_amount_as_fixed_width_text(network, token):
    balance = Balance.objects.create(network=network, account="0x" + "1" * 40, token=token)
    Balance.objects.filter(pk=balance.pk).update(total=10**24 + 1)

    assert _raw("exchange_balance", "total", balance.pk) == (encode(10**24 + 1, 78, 0), "text")


@sqlite_only
@pytest.mark.django_db
def test_sqlite_check_constraints_compare_the_text_numerically(network, token):
    balance = Balance.objects.create(
        network=network, account="0x" + "2" * 40, token=token, total=10**24, held=10**23
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Balance.objects.filter(pk=balance.pk).update(held=10**24 + 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Balance.objects.filter(pk=balance.pk).update(held=-1)
    Balance.objects.filter(pk=balance.pk).update(held=10**24)


@sqlite_only
@pytest.mark.django_db
def test_sqlite_refuses_sql_arithmetic_on_decimals_instead_of_rounding(network, token):
    Balance.objects.create(network=network, account="0x" + "3" * 40, token=token)

    with pytest.raises(NotSupportedError, match="not exact on SQLite"):
        Balance.objects.update(total=F("total") + 1)
    with pytest.raises(NotSupportedError, match="not exact on SQLite"):
        Balance.objects.aggregate(Avg("total"))


@pytest.mark.django_db
def test_sum_min_and_max_of_amounts_are_exact(network, token):
    values = [UINT256_MAX // 4, 10**24 + 1, 3]
    for index, value in enumerate(values):
        Balance.objects.create(
            network=network, account=f"0x{index + 1:040x}", token=token, total=value
        )

    result = Balance.objects.aggregate(sum=Sum("total"), low=Min("total"), high=Max("total"))

    assert result == {"sum": sum(values), "low": 3, "high": UINT256_MAX // 4}
    assert Balance.objects.filter(total__gt=10**24).count() == 2
    assert Balance.objects.filter(total__range=(10**24 + 1, 10**24 + 1)).count() == 1
    assert list(Balance.objects.order_by("-total").values_list("total", flat=True)) == sorted(
        values, reverse=True
    )


@pytest.mark.django_db
def test_sums_of_signed_deltas_are_exact(network, token):
    with transaction.atomic():
        balance = token_balance_lock(token=token, account="0x" + "4" * 40)
        balance_change(balance, kind=LedgerKind.DEPOSIT, total_delta=UINT256_MAX)
        balance_change(balance, kind=LedgerKind.WITHDRAWAL, total_delta=-(10**24 + 1))
        balance_change(balance, kind=LedgerKind.HOLD, held_delta=7)
        balance_change(balance, kind=LedgerKind.RELEASE, held_delta=-7)

    sums = LedgerEntry.objects.filter(balance=balance).aggregate(
        total=Sum("total_delta"), held=Sum("held_delta"), lowest=Min("total_delta")
    )
    grouped = list(
        LedgerEntry.objects.values("balance_id").annotate(total=Sum("total_delta")).order_by()
    )

    assert sums == {"total": UINT256_MAX - 10**24 - 1, "held": 0, "lowest": -(10**24 + 1)}
    assert grouped == [{"balance_id": balance.pk, "total": UINT256_MAX - 10**24 - 1}]
    assert LedgerEntry.objects.filter(total_delta__lt=0).count() == 1
    assert LedgerEntry.objects.aggregate(none=Sum("total_delta", filter=Q(id__lt=0))) == {
        "none": None
    }


def test_the_order_model_keeps_prices_at_36_places():
    assert Order._meta.get_field("price").decimal_places == 36


# Two processes (the web process and the Celery worker of the embedded mode) writing
# the same SQLite file: WAL and IMMEDIATE transactions queue them, none gives up.

_SETUP = """
from exchange.models import Network, Token
network = Network.objects.create(id=31337, name="Local", rpc_url="http://127.0.0.1:8545")
Token.objects.create(
    network=network, address="0x" + "0" * 40, symbol="ETH", name="Ether", decimals=18
)
"""

_WRITER = """
import sys
from django.db import transaction
from exchange.models import LedgerKind, Token
from exchange.services.ledger import balance_change, token_balance_lock
token = Token.objects.get(symbol="ETH")
for index in range(50):
    with transaction.atomic():
        balance = token_balance_lock(token=token, account="0x" + "5" * 40)
        balance_change(
            balance, kind=LedgerKind.DEPOSIT, total_delta=10**24 + 1,
            reference=f"{sys.argv[1]}:{index}",
        )
"""


def _django(script: str, database: Path, *args: str) -> subprocess.Popen:
    code = "import django; django.setup()\n" + textwrap.dedent(script)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "relayer.settings",
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": "",
        "SECRET_KEY": "test",
    }
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finished(process: subprocess.Popen) -> None:
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-3000:]


@sqlite_only
def test_two_processes_write_the_ledger_without_database_is_locked(tmp_path):
    database = tmp_path / "relayer.sqlite3"
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": f"sqlite:///{database}", "REDIS_URL": ""},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    _finished(_django(_SETUP, database))

    writers = [_django(_WRITER, database, name) for name in ("web", "worker")]
    for writer in writers:
        _finished(writer)

    with sqlite3.connect(database) as db:
        (journal,) = db.execute("PRAGMA journal_mode").fetchone()
        (entries,) = db.execute("SELECT count(*) FROM exchange_ledgerentry").fetchone()
        (total,) = db.execute("SELECT total FROM exchange_balance").fetchone()
    assert (journal, entries) == ("wal", 100)
    assert decode(total) == 100 * (10**24 + 1)


@pytest.mark.django_db
def test_bulk_update_keeps_amounts_exact_and_ordered(network, token):
    rows = [
        Balance.objects.create(network=network, account=f"0x{index + 1:040x}", token=token)
        for index in range(3)
    ]
    for row, value in zip(rows, (10**24 + 1, UINT256_MAX, 10**24), strict=True):
        row.total = value
    Balance.objects.bulk_update(rows, ["total"])

    assert list(Balance.objects.order_by("total").values_list("total", flat=True)) == [
        10**24,
        10**24 + 1,
        UINT256_MAX,
    ]
