"""Shared fixtures. Backend fixtures (scratch SQLite/PostgreSQL databases) live in
``tests/backends.py``, the S3 server in ``tests/s3.py``; PostgreSQL tests fail instead of
skipping when ``CI=true``."""

pytest_plugins = ["tests.backends", "tests.s3"]
