"""Shared fixtures. Backend fixtures (scratch SQLite/PostgreSQL databases) live in
``tests/backends.py``, the S3 server in ``tests/s3.py``; PostgreSQL tests fail instead of
skipping when ``CI=true``."""

from hypothesis import settings

pytest_plugins = ["tests.backends", "tests.s3"]

# Property tests check what comes out, not how fast: on a shared, loaded machine
# hypothesis's per-example deadline (200 ms) fails them for the machine's load alone.
settings.register_profile("chainwatch", deadline=None)
settings.load_profile("chainwatch")
