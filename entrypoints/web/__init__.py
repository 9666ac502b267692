"""The analyst console: web pages over the same use cases the API calls."""

from entrypoints.web.console import console_routes, template_config
from entrypoints.web.session import Console

__all__ = ["Console", "console_routes", "template_config"]
