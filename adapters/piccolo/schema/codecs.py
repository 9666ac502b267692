"""One codec per entity: how its domain object maps onto its ``Table``'s row.

Everything is derived from ``Table._meta.columns``: the column list, the select list, the
PostgreSQL element types for ``unnest`` arrays and ``COPY``, and the per-column value
conversion (by column type: ``Uint256`` -> wei, ``Timestamptz`` -> instant, ``UUID`` and
UUID foreign keys -> uuid, ``JSON`` -> document, ``Boolean`` -> bool, enum-valued
``Varchar`` -> the enum's value). A JSON document may nest tuples and dataclass value
objects (written as arrays and objects; the entity's constructor reads them back), and a
nullable column's ``None`` is SQL NULL, never the JSON ``null``. Entity fields carry the
column names, so adding a column is: the ``Table``, a migration, and the field on the
entity - the codec follows.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from operator import attrgetter
from typing import Any, Generic, TypeVar

import msgspec
from piccolo.columns import (
    JSON,
    UUID,
    BigInt,
    Boolean,
    DoublePrecision,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import Column
from piccolo.table import Table

from adapters.piccolo.schema.columns import Uint256
from adapters.piccolo.schema.tables import (
    Anomalies,
    ApiKeys,
    Archives,
    AuditLogs,
    Comments,
    ConsoleSessions,
    Jobs,
    Labels,
    Models,
    ModelVersions,
    Predictions,
    SystemMetrics,
    Transactions,
    Users,
)
from adapters.piccolo.sql.engine import Dialect
from adapters.piccolo.sql.values import (
    as_bool,
    as_instant,
    as_uuid,
    as_wei,
    db_instant,
    db_uuid,
    db_wei,
    from_json,
)
from domain.archival import ArchiveRecord
from domain.comments import Comment
from domain.explanations import stored_contributions
from domain.jobs import Job
from domain.model import (
    Anomaly,
    APIKey,
    AuditLog,
    Label,
    Model,
    ModelVersion,
    Prediction,
    SystemMetric,
    Transaction,
    User,
)
from domain.sessions import ConsoleSession

E = TypeVar("E")
Encoder = Callable[[Any, Dialect], Any]
Decoder = Callable[[Any], Any]

# PostgreSQL element type of each column class (unnest arrays, COPY); ordered subclass
# first where one column class derives from another.
_PG_ELEMENT_TYPES: tuple[tuple[type[Column], str], ...] = (
    (Uint256, "numeric"),
    (Timestamptz, "timestamptz"),
    (UUID, "uuid"),
    (JSON, "json"),
    (Boolean, "bool"),
    (BigInt, "bigint"),
    (Integer, "integer"),
    (DoublePrecision, "float8"),
    (Text, "text"),
    (Varchar, "varchar"),
)


def referenced_column(column: Column) -> Column:
    """The column whose values ``column`` holds: a foreign key's referenced primary key."""
    if isinstance(column, ForeignKey):
        referenced: type[Table] = column._foreign_key_meta.resolved_references
        return referenced._meta.primary_key
    return column


def _pg_type(column: Column) -> str:
    target = referenced_column(column)
    for kind, name in _PG_ELEMENT_TYPES:
        if isinstance(target, kind):
            return name
    raise TypeError(f"no PostgreSQL type known for {type(target).__name__} columns")


def _enum_value(value: Any, _dialect: Dialect) -> Any:
    return value.value if isinstance(value, Enum) else value


# Encoders that hand PostgreSQL the value unchanged (asyncpg binds ints, datetimes and
# UUIDs natively); ``to_row`` skips them there - it runs for every row ingested.
_NATIVE_ON_POSTGRES: frozenset[Encoder] = frozenset({db_wei, db_instant, db_uuid})


_JSON = msgspec.json.Encoder()


def _json_document(value: Any, _dialect: Dialect) -> str:
    """``value`` as compact JSON text: tuples as arrays, dataclass instances as objects
    (fields in order), all the way down. msgspec does it in C: for predictions'
    contributions about ten times faster than ``json.dumps`` over a converted copy, which
    was a fifth of ``/predict/batch``'s own time. Values are finite already (the domain
    checks them)."""
    return _JSON.encode(value).decode()


def _json_or_null(value: Any, dialect: Dialect) -> str | None:
    return None if value is None else _json_document(value, dialect)


def _encoder(column: Column) -> Encoder | None:
    """How to bind an entity's value for ``column`` (None: as it is)."""
    target = referenced_column(column)
    if isinstance(target, Uint256):
        return db_wei
    if isinstance(target, Timestamptz):
        return db_instant
    if isinstance(target, UUID):
        return db_uuid
    if isinstance(target, JSON):
        return _json_or_null if column._meta.null else _json_document
    if isinstance(target, Varchar | Text):
        return _enum_value
    return None


def _optional(decode: Decoder) -> Decoder:
    return lambda value: None if value is None else decode(value)


def _decoder(column: Column) -> Decoder | None:
    """How to read ``column``'s stored value back (None: as the driver returns it)."""
    decode = _base_decoder(column)
    if decode is not None and column._meta.null:
        return _optional(decode)
    return decode


def _base_decoder(column: Column) -> Decoder | None:
    """How to read a non-null value of ``column`` back (None: as the driver returns it)."""
    target = referenced_column(column)
    decode: Decoder | None = None
    if isinstance(target, Uint256):
        decode = as_wei
    elif isinstance(target, Timestamptz):
        decode = as_instant
    elif isinstance(target, UUID):
        decode = as_uuid
    elif isinstance(target, JSON):
        decode = from_json
    elif isinstance(target, Boolean):
        decode = as_bool
    return decode


class Codec(Generic[E]):
    """An entity's row shape, derived from its ``Table``; see the module docstring."""

    def __init__(
        self,
        table: type[Table],
        entity: Callable[..., E],
        *,
        trusted: Mapping[str, Decoder] | None = None,
    ) -> None:
        columns = table._meta.columns
        self.table = table
        self.tablename: str = table._meta.tablename
        self.columns: tuple[str, ...] = tuple(c._meta.db_column_name for c in columns)
        self.pg_types: tuple[str, ...] = tuple(_pg_type(c) for c in columns)
        self._entity = entity
        self._fields = attrgetter(*self.columns)
        self._encoders = {c._meta.db_column_name: _encoder(c) for c in columns}
        encoding = [(i, e) for i, e in enumerate(self._encoders.values()) if e is not None]
        self._encode_row: dict[Dialect, tuple[tuple[int, Encoder], ...]] = {
            "sqlite": tuple(encoding),
            "postgres": tuple((i, e) for i, e in encoding if e not in _NATIVE_ON_POSTGRES),
        }
        self._decoders = tuple((c._meta.db_column_name, _decoder(c)) for c in columns)
        self._trusted = None if trusted is None else _trusted_steps(entity, columns, trusted)
        self._builders: dict[str, Callable[[Any], E]] = {}

    def select(self, alias: str | None = None) -> str:
        """The select list: every column, quoted, prefixed by ``alias.`` if given."""
        prefix = "" if alias is None else f"{alias}."
        return ", ".join(f'{prefix}"{column}"' for column in self.columns)

    def to_row(self, entity: E, dialect: Dialect) -> tuple[Any, ...]:
        """The values to bind for ``entity``, in ``columns`` order."""
        values = list(self._fields(entity))
        for position, encode in self._encode_row[dialect]:
            values[position] = encode(values[position], dialect)
        return tuple(values)

    def encode(self, column: str, value: Any, dialect: Dialect) -> Any:
        """One value to bind for ``column`` (in a condition or an assignment)."""
        encode = self._encoders[column]
        return value if encode is None else encode(value, dialect)

    def from_row(self, row: Any, prefix: str = "") -> E:
        """The entity of a result row (``asyncpg.Record`` or ``dict``) holding ``columns``,
        each named ``prefix + column`` (a joined row's columns of this table).

        For a ``trusted`` codec the entity is built without its constructor's checks:
        the row was written from a checked entity, and re-checking every hash, address
        and amount of a page was a good part of a listing's time (0.76 -> 0.32 ms for a
        page of 50 anomalies, transactions and predictions); a function generated once
        per prefix sets the fields one by one, without a loop or ``setattr`` calls."""
        if self._trusted is not None:
            build = self._builders.get(prefix)
            if build is None:
                build = self._builders[prefix] = _builder(self._entity, self._trusted, prefix)
            return build(row)
        return self._entity(
            **{
                name: row[prefix + name] if decode is None else decode(row[prefix + name])
                for name, decode in self._decoders
            }
        )


def _builder(
    entity: Callable[..., E], steps: tuple[_Steps, ...], prefix: str
) -> Callable[[Any], E]:
    """``build(row)``: a new ``entity`` (not through its constructor) whose every field is
    its column ``row[prefix + name]`` passed through its steps (None stays None for a
    nullable column) - generated code, like the dataclasses module's own ``__init__``;
    the names come from the ``Table``, never from input."""
    namespace: dict[str, Any] = {"_new": object.__new__, "_entity": entity}
    lines = ["def build(row):", "    item = _new(_entity)"]
    for position, (name, decoders, nullable) in enumerate(steps):
        if not name.isidentifier():
            raise TypeError(f"column {name!r} is not a field name")
        read = f"row[{prefix + name!r}]"
        if not decoders:
            lines.append(f"    item.{name} = {read}")
            continue
        value = "value"
        for step, decode in enumerate(decoders):
            namespace[f"_step{position}_{step}"] = decode
            value = f"_step{position}_{step}({value})"
        lines.append(f"    value = {read}")
        lines.append(
            f"    item.{name} = None if value is None else {value}"
            if nullable
            else f"    item.{name} = {value}"
        )
    lines.append("    return item")
    exec("\n".join(lines), namespace)  # noqa: S102 - the source above, from column names
    return typing.cast(Callable[[Any], E], namespace["build"])


def _enum_of(hint: Any) -> type[Enum] | None:
    """The enum class of a field typed ``SomeEnum`` or ``SomeEnum | None``."""
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        enums = [a for a in typing.get_args(hint) if isinstance(a, type) and issubclass(a, Enum)]
        return enums[0] if len(enums) == 1 else None
    return None


_Steps = tuple[str, tuple[Decoder, ...], bool]
"""A trusted field: its name (= its column), what turns a stored non-null value into the
field's value, in order, and whether the column may hold NULL (read back as None)."""


def _enum_lookup(enum: type[Enum]) -> Decoder:
    """``enum(value)`` for a stored value - a dictionary lookup, not the enum's call."""
    members = enum._value2member_map_

    def lookup(value: Any) -> Any:
        member = members.get(value)
        return enum(value) if member is None else member

    return lookup


def _trusted_steps(
    entity: Callable[..., Any], columns: Sequence[Column], extra: Mapping[str, Decoder]
) -> tuple[_Steps, ...]:
    """Per column, what turns the stored value into the field's value without the
    constructor: the column's decoder, then the field's enum (enum-typed fields), then
    ``extra`` (what else the constructor converts, e.g. JSON into value objects). Every
    field must be a column: nothing is left to defaults."""
    if not (isinstance(entity, type) and dataclasses.is_dataclass(entity)):
        raise TypeError("a trusted codec builds dataclass entities")
    hints = typing.get_type_hints(entity)
    fields = {f.name for f in dataclasses.fields(entity)}
    if fields != {c._meta.db_column_name for c in columns}:
        raise TypeError(f"{entity.__name__}: a trusted codec needs a column for every field")
    result = []
    for column in columns:
        name = column._meta.db_column_name
        decoders = [d for d in (_base_decoder(column),) if d is not None]
        enum = _enum_of(hints[name])
        if enum is not None:
            decoders.append(_enum_lookup(enum))
        if name in extra:
            decoders.append(extra[name])
        result.append((name, tuple(decoders), bool(column._meta.null)))
    return tuple(result)


# The rows listings read in bulk are built without re-running their checks (see
# ``Codec.from_row``); tests/unit/test_trusted_rows.py holds them to the constructors.
TRANSACTIONS = Codec(Transactions, Transaction, trusted={})
PREDICTIONS = Codec(Predictions, Prediction, trusted={"contributions": stored_contributions})
ANOMALIES = Codec(Anomalies, Anomaly, trusted={"contributions": stored_contributions})
LABELS = Codec(Labels, Label)
MODELS = Codec(Models, Model)
MODEL_VERSIONS = Codec(ModelVersions, ModelVersion)
USERS = Codec(Users, User)
API_KEYS = Codec(ApiKeys, APIKey)
AUDIT_LOGS = Codec(AuditLogs, AuditLog, trusted={})
SYSTEM_METRICS = Codec(SystemMetrics, SystemMetric)
JOBS = Codec(Jobs, Job)
ARCHIVES = Codec(Archives, ArchiveRecord)
COMMENTS = Codec(Comments, Comment)
CONSOLE_SESSIONS = Codec(ConsoleSessions, ConsoleSession)
