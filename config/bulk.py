"""Many new rows in one go: PostgreSQL's COPY where the database has it, `bulk_create` elsewhere.

`rows_insert(Model, rows)` takes each row as a dict of attribute names (`lead_id`, not
`lead`); a column a row leaves out takes its field's default, as `Model(**row)` would
(`auto_now`/`auto_now_add` stamps included). On PostgreSQL the rows are written with one
`COPY ... FROM STDIN` in the text format: no model instances, no per-value adaptation, no
SQL to parse, which is most of what `bulk_create` costs the importer (issue 21). The
primary keys are reserved beforehand from the table's own sequence when the caller asks
for them, so they come back in row order as `bulk_create`'s do.

`copy_prepare` encodes a COPY without sending it, for a caller that sends it from another
thread (the importer's pipeline). `texts_in` matches a text column against many values in one
array parameter on PostgreSQL.

Nothing here validates: callers insert rows their services already checked, and the
database's constraints and triggers apply to COPY as to INSERT.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, models, router
from django.utils import timezone

_UNSEEN = object()
_CHUNK_ROWS = 100  # rows per read of the COPY stream
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: Any) -> str:
    """A value in COPY's text format (NULL is \\N)."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        if "\\" not in value and value.isprintable():  # no tab, newline or return either
            return value
        return value.translate(_COPY_ESCAPES)
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


_JSON = DjangoJSONEncoder()


def _json_text(value: Any) -> str:
    if value is None:
        return "\\N"
    return _text(_JSON.encode(value))


class _Reader:
    """A file to COPY from whose reads are the next chunk of rows, encoded on demand."""

    def __init__(self, chunks: Iterator[str]) -> None:
        self._chunks = chunks

    def read(self, _size: int = -1) -> str:
        return next(self._chunks, "")


class AnyOf(models.Lookup):
    """`column = ANY(%s)`: many texts in one array parameter (PostgreSQL), where `__in`
    prepares each value and writes a placeholder for it (a 1,000-key batch spent more
    time building its two look-ups than the database spent answering them). Text columns
    only: a text needs no preparing (a number would, for its range)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def get_prep_lookup(self) -> list[Any]:
        return list(self.rhs)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        # Typed even when empty; text, not the column's varchar(n), which would cut a
        # longer value down to one that matches.
        return f"{lhs} = ANY(%s::text[])", (*lhs_params, self.rhs)


models.CharField.register_lookup(AnyOf)
models.TextField.register_lookup(AnyOf)


def texts_in(name: str, values: Iterable[str], *, using: str = "default") -> models.Q:
    """Text column `name` is one of `values`: one array parameter on PostgreSQL, `__in`
    elsewhere."""
    if connections[using].vendor == "postgresql":
        return models.Q(**{f"{name}__any_of": [str(value) for value in values]})
    return models.Q(**{f"{name}__in": values})


def _defaults(model: type[models.Model], given: Mapping[str, Any]) -> dict[str, Any]:
    """Each concrete field's value when a row leaves it out, as a new instance would have it.
    A field with a database default (`db_default`) is left to the database unless `given`."""
    now = timezone.now()
    values: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        if field.primary_key or (field.has_db_default() and field.attname not in given):
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            values[field.attname] = now
        else:
            values[field.attname] = field.get_default()
    return values


def _json_encoder() -> Callable[[Any], str]:
    """_json_text for one insert's rows, each object encoded once however many rows hold it
    (the rows, alive until the insert ends, keep every id their own)."""
    texts: dict[int, str] = {}

    def encode(value: Any) -> str:
        text = texts.get(id(value))
        if text is None:
            text = texts[id(value)] = _json_text(value)
        return text

    return encode


def _encoders(model: type[models.Model], names: Sequence[str]) -> list[Callable[[Any], str]]:
    fields = {field.attname: field for field in model._meta.concrete_fields}
    return [
        _json_encoder() if isinstance(fields[name], models.JSONField) else _text for name in names
    ]


def ids_reserve(model: type[models.Model], count: int, *, using: str) -> list[int]:
    """`count` new primary keys from the table's own sequence, in increasing order."""
    if count <= 0:
        return []
    table, column = model._meta.db_table, model._meta.pk.column
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, column, count],
        )
        return sorted(row[0] for row in cursor.fetchall())


class Copy:
    """A COPY statement and its rows' text, encoded beforehand (copy_prepare): `send` is
    all C, the caller's thread free while the server writes."""

    def __init__(self, using: str, sql: str, text: str) -> None:
        self.using, self.sql, self.text = using, sql, text

    def send(self) -> None:
        connection = connections[self.using]
        with connection.cursor() as cursor, connection.wrap_database_errors:
            cursor.cursor.copy_expert(self.sql, io.StringIO(self.text), size=len(self.text) + 1)


def copy_prepare(
    model: type[models.Model], rows: Sequence[Mapping[str, Any]], *, with_ids: bool = False
) -> tuple[list[int], Copy | None]:
    """The COPY of `rows` made ready (PostgreSQL): their ids reserved (`with_ids`) and their
    text encoded now, so that sending it is the database's time alone (the importer's
    pipeline encodes a batch in one thread and sends it from another)."""
    if not rows:
        return [], None
    using = router.db_for_write(model)
    if connections[using].vendor != "postgresql":
        raise ValueError("COPY is PostgreSQL's: elsewhere rows_insert inserts the rows")
    ids, sql, lines = _copy(model, rows, with_ids=with_ids, using=using, chunk=len(rows))
    return ids, Copy(using, sql, "".join(lines))


def rows_insert(
    model: type[models.Model], rows: Sequence[Mapping[str, Any]], *, with_ids: bool = False
) -> list[int]:
    """Insert `rows` (attribute name → value); with `with_ids`, their new primary keys in
    row order (else an empty list). A row may not give its own primary key."""
    if not rows:
        return []
    using = router.db_for_write(model)
    connection = connections[using]
    if connection.vendor != "postgresql":
        known = {field.attname for field in model._meta.concrete_fields}
        for row in rows:
            if not known.issuperset(row):
                raise ValueError(f"{model.__name__} has no column {sorted(set(row) - known)}")
        objects = [model(**row) for row in rows]
        model._default_manager.using(using).bulk_create(objects)
        return [obj.pk for obj in objects] if with_ids else []
    ids, sql, lines = _copy(model, rows, with_ids=with_ids, using=using, chunk=_CHUNK_ROWS)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        # The psycopg2 cursor under Django's wrapper (its errors as Django's: a key taken
        # meanwhile is an IntegrityError). It reads the rows a chunk at a time as they are
        # encoded, so the server writes one chunk while the next is encoded.
        cursor.cursor.copy_expert(sql, _Reader(lines))
    return ids


def _copy(
    model: type[models.Model], rows: Sequence[Mapping[str, Any]], *, with_ids: bool,
    using: str, chunk: int,
) -> tuple[list[int], str, Iterator[str]]:  # fmt: skip
    """The rows' COPY statement and text (in chunks of `chunk` rows, encoded as read), with
    their reserved ids (`with_ids`)."""
    connection = connections[using]
    defaults = _defaults(model, rows[0])
    names = list(defaults)
    position = {name: index for index, name in enumerate(names)}
    encoders = _encoders(model, names)
    blank = [encode(defaults[name]) for name, encode in zip(names, encoders, strict=True)]
    for row in rows:  # checked before the COPY starts, which a failed read would abort
        if not row.keys() <= position.keys():
            unknown = sorted(set(row) - set(position))
            raise ValueError(f"{model.__name__} has no column {unknown} to copy into")
    ids = ids_reserve(model, len(rows), using=using) if with_ids else []

    def lines(size: int) -> Iterator[str]:
        chunk: list[str] = []
        # Each column's last value and its text: a batch's rows share many values (the
        # same moment, stage, blank, the same scored breakdown), encoded once each.
        last: list[Any] = [_UNSEEN] * len(names)
        last_text = blank.copy()
        for index, row in enumerate(rows):
            cells = blank.copy()  # each column's default, encoded once
            for name, value in row.items():
                at = position[name]
                if value is not last[at]:
                    last[at], last_text[at] = value, encoders[at](value)
                cells[at] = last_text[at]
            if with_ids:
                cells.insert(0, str(ids[index]))
            chunk.append("\t".join(cells))
            if len(chunk) == size:
                yield "\n".join(chunk) + "\n"
                chunk = []
        if chunk:
            yield "\n".join(chunk) + "\n"

    by_name = {field.attname: str(field.column) for field in model._meta.concrete_fields}
    columns = [str(model._meta.pk.column)] if with_ids else []
    columns += [by_name[name] for name in names]
    quote = connection.ops.quote_name
    sql = "COPY {} ({}) FROM STDIN".format(
        quote(model._meta.db_table), ", ".join(quote(column) for column in columns)
    )
    return ids, sql, lines(chunk)
