"""Rows for the at-scale benchmark (``at_scale.py``), generated with numpy as COPY CSV text.

One chunk is a run of consecutive transactions, with one served prediction each, an
anomaly for about 1% of them and one audit row per prediction - consistent with each
other, so chunks can be generated (and loaded) independently and in any order; chunk ``i``
is the same for the same seed. Columns come in the codecs' order (``TRANSACTIONS.columns``
...), so the table declarations stay the one source of the row shape, and values are
written the way PostgreSQL stores them: wei as exact decimal integers up to 78 digits
(``NUMERIC(78, 0)``), instants as UTC ``timestamptz``, ids as UUIDs, JSON as text.

Realistic enough for the query plans to mean something: a few hundred thousand addresses
with skewed (Zipf-like) activity, transactions in time order over the whole span, about
a third of values zero (contract calls) and the rest log-normal ether amounts (a few
78-digit ones), severities in the proportions of the default alert shares (low 50%,
medium 30%, high 10%, critical 10%), older anomalies more often reviewed, audit rows
spread over several service users (one of them busy).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from adapters.piccolo.schema.codecs import ANOMALIES, AUDIT_LOGS, PREDICTIONS, TRANSACTIONS

Column = np.ndarray
TABLES = (TRANSACTIONS, PREDICTIONS, ANOMALIES, AUDIT_LOGS)
ANOMALY_SHARE = 0.01
SEVERITIES = (b"low", b"medium", b"high", b"critical")
SEVERITY_SHARES = (0.5, 0.3, 0.1, 0.1)
_CONTRIBUTIONS = b'"[{""feature"":""value_log10"",""contribution"":0.61},{""feature"":""gas_price_gwei_log"",""contribution"":0.22}]"'  # noqa: E501


@dataclass(frozen=True, slots=True)
class Shape:
    """What every chunk shares: sizes, the time span and the ids rows point at."""

    rows: int
    chunk_rows: int
    addresses: int
    start: datetime
    span_s: float
    version_id: uuid.UUID
    service_users: tuple[uuid.UUID, ...]
    analyst: uuid.UUID
    seed: int = 12

    @property
    def chunks(self) -> int:
        return -(-self.rows // self.chunk_rows)


def _hex(rng: np.random.Generator, count: int, nbytes: int, prefix: bytes = b"") -> Column:
    digits = np.frombuffer(rng.bytes(count * nbytes).hex().encode(), dtype=f"S{2 * nbytes}")
    return np.strings.add(prefix, digits) if prefix else digits


def _ids(rng: np.random.Generator, count: int) -> Column:
    """UUIDs as 32 hex digits (PostgreSQL's uuid input takes them without hyphens)."""
    return _hex(rng, count, 16)


def _uuid_text(value: uuid.UUID) -> bytes:
    return value.hex.encode()


def _instants(microseconds: np.ndarray) -> Column:
    stamps = np.datetime_as_string(microseconds.astype("datetime64[us]"), unit="us")
    return np.strings.add(stamps.astype("S26"), b"+00")


def _wei(rng: np.random.Generator, count: int) -> Column:
    """Exact decimal integers: 35% zero, else 10**x wei with x ~ N(17.3, 1.6) (about 0.2
    ether), rare values of 60 to 78 digits (spam tokens and approvals of 2**256-1)."""
    exponent = np.clip(rng.normal(17.3, 1.6, count), 0.0, 77.0)
    huge = rng.random(count) < 0.0002
    exponent[huge] = rng.uniform(60.0, 77.0, int(huge.sum()))
    digits = np.floor(exponent).astype(np.int64) + 1
    zeros = np.maximum(digits - 18, 0)
    mantissa = np.floor(10.0 ** (exponent - zeros)).astype(np.int64)
    text = np.strings.add(mantissa.astype("S19"), np.strings.multiply(b"0", zeros))
    full = np.full(count, str(2**256 - 1).encode(), dtype="S78")
    text = np.where(huge & (rng.random(count) < 0.1), full, text)
    return np.where(rng.random(count) < 0.35, b"0", text)


def _csv(columns: dict[str, Column], order: tuple[str, ...]) -> bytes:
    row = columns[order[0]]
    for name in order[1:]:
        row = np.strings.add(np.strings.add(row, b","), columns[name])
    return b"\n".join(row.tolist()) + b"\n"


def _address_book(shape: Shape) -> Column:
    rng = np.random.default_rng([shape.seed, 0])
    return _hex(rng, shape.addresses, 20, b"0x")


def _skewed(rng: np.random.Generator, count: int, population: int) -> np.ndarray:
    """Indexes in ``range(population)``, rank r drawn about as often as 1 / (r + 10)."""
    u = rng.random(count)
    return np.minimum(
        (10.0 * ((population / 10.0 + 1.0) ** u - 1.0)).astype(np.int64), population - 1
    )


def chunk(shape: Shape, index: int, book: Column | None = None) -> dict[str, bytes]:
    """The CSV text of chunk ``index`` for each table, by table name."""
    rng = np.random.default_rng([shape.seed, index + 1])
    book = _address_book(shape) if book is None else book
    first = index * shape.chunk_rows
    n = min(shape.chunk_rows, shape.rows - first)
    position = np.arange(first, first + n, dtype=np.float64) + rng.random(n)
    start_us = int(shape.start.timestamp() * 1_000_000)
    at = start_us + (position * (shape.span_s * 1_000_000 / shape.rows)).astype(np.int64)
    tx_hash = _hex(rng, n, 32, b"0x")
    creation = rng.random(n) < 0.005
    transfer = rng.random(n) < 0.6
    gas = np.where(transfer, 21000, rng.choice([50000, 120000, 250000, 600000], n))
    tx = {
        "hash": tx_hash,
        "chain": np.full(n, b"ethereum"),
        "block_number": (18_000_000 + position // 150).astype(np.int64).astype("S12"),
        "from_address": book[_skewed(rng, n, len(book))],
        "to_address": np.where(creation, b"", book[_skewed(rng, n, len(book))]),
        "value": _wei(rng, n),
        "gas": gas.astype("S12"),
        "gas_price": np.exp(rng.normal(23.7, 0.8, n)).astype(np.int64).astype("S20"),
        "nonce": rng.integers(0, 50_000, n).astype("S12"),
        "gas_used": (gas * np.where(transfer, 1.0, rng.uniform(0.3, 1.0, n)))
        .astype(np.int64)
        .astype("S12"),
        "input_size": np.where(transfer, 0, rng.choice([4, 68, 132, 196, 1024], n)).astype("S8"),
        "timestamp": _instants(at),
        "ingested_at": _instants(at + rng.integers(500_000, 15_000_000, n)),
    }
    scored_at = at + rng.integers(600_000, 16_000_000, n)
    anomalous = rng.random(n) < ANOMALY_SHARE
    score = np.where(anomalous, rng.uniform(0.99, 1.0, n), rng.uniform(0.0, 0.99, n))
    prediction_id = _ids(rng, n)
    scored = _instants(scored_at)
    predictions = {
        "id": prediction_id,
        "transaction_hash": tx_hash,
        "model_version_id": np.full(n, _uuid_text(shape.version_id)),
        "score": np.round(score, 6).astype("S12"),
        "is_anomaly": np.where(anomalous, b"t", b"f"),
        "served": np.full(n, b"t"),
        "latency_ms": np.round(rng.gamma(2.0, 3.0, n), 3).astype("S10"),
        "created_at": scored,
        "contributions": np.where(anomalous, _CONTRIBUTIONS, b""),
    }
    tables = {
        TRANSACTIONS.tablename: _csv(tx, TRANSACTIONS.columns),
        PREDICTIONS.tablename: _csv(predictions, PREDICTIONS.columns),
        ANOMALIES.tablename: _anomalies(
            shape, rng, anomalous, predictions, tx["timestamp"], scored_at, index
        ),
        AUDIT_LOGS.tablename: _audit(shape, rng, tx_hash, scored),
    }
    return tables


def _anomalies(
    shape: Shape,
    rng: np.random.Generator,
    anomalous: np.ndarray,
    predictions: dict[str, Column],
    tx_at: Column,
    scored_at: np.ndarray,
    index: int,
) -> bytes:
    picked = np.flatnonzero(anomalous)
    k = len(picked)
    if k == 0:
        return b""
    severity = np.array(SEVERITIES)[rng.choice(4, k, p=SEVERITY_SHARES)]
    # The oldest chunks are mostly reviewed, the newest mostly still open.
    reviewed_share = 0.8 * (1.0 - index / max(shape.chunks - 1, 1)) + 0.05
    reviewed = rng.random(k) < reviewed_share
    verdict = np.array([b"confirmed", b"dismissed", b"escalated"])[
        rng.choice(3, k, p=(0.35, 0.6, 0.05))
    ]
    reviewed_at = scored_at[picked] + rng.integers(60, 3 * 86_400, k) * 1_000_000
    columns = {
        "id": _ids(rng, k),
        "transaction_hash": predictions["transaction_hash"][picked],
        "prediction_id": predictions["id"][picked],
        "model_version_id": predictions["model_version_id"][picked],
        "severity": severity,
        "score": predictions["score"][picked],
        "status": np.where(reviewed, verdict, b"open"),
        "reviewed_by": np.where(reviewed, _uuid_text(shape.analyst), b""),
        "reviewed_at": np.where(reviewed, _instants(reviewed_at), b""),
        "note": np.where(reviewed, b"checked against the sender's history", b""),
        "detected_at": predictions["created_at"][picked],
        "assigned_to": np.full(k, b""),
        "assigned_at": np.full(k, b""),
        "contributions": predictions["contributions"][picked],
        "transaction_timestamp": tx_at[picked],
    }
    return _csv(columns, ANOMALIES.columns)


def _audit(shape: Shape, rng: np.random.Generator, tx_hash: Column, at: Column) -> bytes:
    n = len(tx_hash)
    users = np.array([_uuid_text(u) for u in shape.service_users])
    weights = 1.0 / np.arange(1, len(users) + 1) ** 1.2
    request_id = _hex(rng, n, 16)
    details = np.strings.add(
        np.strings.add(b'"{""via"":""http"",""request_id"":""', request_id), b'""}"'
    )
    columns = {
        "id": _ids(rng, n),
        "user_id": users[rng.choice(len(users), n, p=weights / weights.sum())],
        "action": np.full(n, b"transaction.predict"),
        "resource": np.strings.add(b"transactions/", tx_hash),
        "outcome": np.full(n, b"success"),
        "ip": np.strings.add(b"10.0.0.", rng.integers(0, 256, n).astype("S3")),
        "details": details,
        "timestamp": at,
    }
    return _csv(columns, AUDIT_LOGS.columns)
