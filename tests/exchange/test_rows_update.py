"""rows_update writes exactly the fields named of exactly the rows given (amounts up to
2^256-1 included), on PostgreSQL in one statement."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exchange.models import Balance
from exchange.models.fields import UINT256_MAX
from exchange.services.rows import rows_update
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
