"""exchange/services/rows.py: the hot paths' prepared statements (PostgreSQL) read and
fail as the ORM does."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.forms.models import model_to_dict

from exchange.models import Balance
from exchange.services.rows import prepared_fetchone, prepared_row

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL fast path"),
]

ACCOUNT = "0x" + "ab" * 20


def test_a_row_read_prepared_equals_the_orms(network, token):
    balance = Balance.objects.create(
        network=network, account=ACCOUNT, token=token, total=10**70 + 1, held=7
    )
    for _ in range(7):  # past psycopg's prepare threshold: the prepared statement is used
        row = prepared_row(Balance, "id = %(id)s", {"id": balance.id})
    orm = Balance.objects.get(id=balance.id)
    assert model_to_dict(row) == model_to_dict(orm)
    assert (row.updated_at, row.total, type(row.total)) == (
        orm.updated_at,
        orm.total,
        type(orm.total),
    )
    assert not row._state.adding
    assert prepared_row(Balance, "id = %(id)s", {"id": balance.id + 1000}) is None


def test_a_constraint_refusal_is_djangos_integrity_error(network, token):
    balance = Balance.objects.create(network=network, account=ACCOUNT, token=token, total=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        prepared_fetchone(
            "UPDATE exchange_balance SET held = %(held)s WHERE id = %(id)s RETURNING id",
            {"held": 6, "id": balance.id},
        )
    balance.refresh_from_db()
    assert balance.held == 0
