"""``statements.limit``: page sizes are written into the SQL (so PostgreSQL can keep a
prepared statement's generic plan), and only counts are ever written."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.piccolo.sql.statements import limit


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_a_count_is_written_as_its_digits(count: int) -> None:
    assert limit(count) == f"LIMIT {count}"


@pytest.mark.parametrize("value", [-1, True, False, 1.0, "51", "51; DROP TABLE users", None])
def test_anything_but_a_count_is_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="LIMIT must be a count"):
        limit(value)
