"""The HTTP entrypoint: ``create_app(container)`` builds the Litestar application."""

from entrypoints.http.app import create_app

__all__ = ["create_app"]
