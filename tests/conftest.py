"""Shared fixtures. Backend fixtures (scratch SQLite/PostgreSQL databases) live in
``tests/backends.py``; PostgreSQL tests fail instead of skipping when ``CI=true``."""

pytest_plugins = ["tests.backends"]
