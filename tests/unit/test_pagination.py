"""Keyset pagination: cursors round-trip, bad cursors are InvalidInput, pages cover all rows."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.pagination import MAX_LIMIT, Cursor, Page, PageRequest, is_after, paginate
from tests.builders import T0, at

instants = st.datetimes(
    min_value=datetime(1970, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)


@given(instant=instants, key=st.text())
def test_a_cursor_round_trips_through_its_token(instant: datetime, key: str) -> None:
    cursor = Cursor(instant, key)
    token = cursor.encode()
    decoded = Cursor.decode(token)
    assert decoded == cursor
    assert decoded.instant.utcoffset() == timedelta(0)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _token(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not base64 at all!",
        "e30",  # "{}"
        _token(["2024-01-01T00:00:00+00:00"]),
        _token(["2024-01-01T00:00:00+00:00", 5]),
        _token([123, "key"]),
        _token(["yesterday", "key"]),
        _token(["2024-01-01T00:00:00", "key"]),  # naive
        _token(["2024-01-01T00:00:00+00:00", "key", "extra"]),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_bad_cursor_is_invalid_input_naming_the_cursor(token: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        Cursor.decode(token)
    assert refused.value.field == "cursor"
    with pytest.raises(InvalidInput):
        PageRequest.from_token(10, token)


@pytest.mark.parametrize("limit", [0, -1, MAX_LIMIT + 1, True, 2.0])
def test_a_page_limit_must_be_between_1_and_the_maximum(limit: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        PageRequest(limit)  # type: ignore[arg-type]
    assert refused.value.field == "limit"


def test_is_after_orders_by_instant_then_key_descending() -> None:
    cursor = Cursor(at(10), "m")
    assert is_after(at(9), "z", cursor)
    assert is_after(at(10), "a", cursor)
    assert not is_after(at(10), "m", cursor)
    assert not is_after(at(10), "n", cursor)
    assert not is_after(at(11), "a", cursor)
    assert is_after(at(11), "a", None)


Row = tuple[datetime, str]


def _key(row: Row) -> Row:
    return row


@given(
    rows=st.lists(
        st.tuples(st.integers(0, 5), st.text(alphabet="abc", min_size=1, max_size=3)),
        unique=True,
        max_size=30,
    ),
    limit=st.integers(1, 7),
)
def test_paginate_returns_every_row_once_in_descending_order(
    rows: list[tuple[int, str]], limit: int
) -> None:
    data = [(T0 + timedelta(microseconds=offset), key) for offset, key in rows]
    seen: list[Row] = []
    request = PageRequest(limit)
    for _ in range(len(data) + 1):
        page: Page[Row] = paginate(data, request, _key)
        assert len(page.items) <= limit
        seen += page.items
        if page.next_cursor is None:
            break
        assert len(page.items) == limit
        request = PageRequest.from_token(limit, page.next_cursor)
    assert seen == sorted(data, reverse=True)


def test_an_empty_listing_is_one_empty_page() -> None:
    page: Page[Row] = paginate([], PageRequest(5), _key)
    assert (page.items, page.next_cursor) == ([], None)
