"""Row updates in one statement, cheap to build (for the write hot paths)."""

from collections.abc import Sequence

from django.db import connection
from django.db.models import Model


def rows_update(objs: Sequence[Model], fields: Sequence[str]) -> None:
    """Writes `fields` of each saved object, like QuerySet.bulk_update.

    On PostgreSQL one `UPDATE ... FROM (VALUES ...)`: bulk_update's CASE WHEN
    expressions cost more CPU to build than the statement takes to run. Values go
    through each field's get_db_prep_save, as in a save(); auto_now is not applied.
    """
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objs, fields)
        return
    meta, quote = model._meta, connection.ops.quote_name
    columns = [meta.pk] + [meta.get_field(name) for name in fields]
    row = "(" + ", ".join(f"%s::{field.db_type(connection)}" for field in columns) + ")"
    names = [quote(field.column) for field in columns]
    pk = names[0]
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET "
        + ", ".join(f"{name} = v.{name}" for name in names[1:])
        + f" FROM (VALUES {', '.join([row] * len(objs))}) AS v({', '.join(names)})"
        + f" WHERE t.{pk} = v.{pk}"
    )
    params = [
        field.get_db_prep_save(getattr(obj, field.attname), connection)
        for obj in objs
        for field in columns
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
