"""How a model version is named: the tag clients use and the label people read.

The tag (``iforest:3``) is what the API answers and accepts as a reference to a version;
the label (``iforest v3``) is what messages and the CLI print. Both take the model's
stored (lowercase) name.
"""

from __future__ import annotations

import re

from domain.values import lookup_key

_TAG = re.compile(r"([a-z0-9][a-z0-9_.-]{0,63}):([1-9][0-9]{0,8})")


def version_tag(model_name: str, version: int) -> str:
    """How a model version is named to clients: ``<model name>:<version number>``."""
    return f"{model_name}:{version}"


def parse_version_tag(text: str) -> tuple[str, int] | None:
    """The model name and version number of a tag (any casing or padding); ``None``
    for anything that is not a tag."""
    match = _TAG.fullmatch(lookup_key(text))
    if match is None:
        return None
    return match.group(1), int(match.group(2))


def version_label(model_name: str, version: int) -> str:
    """How a model version is named to people: ``<model name> v<version number>``."""
    return f"{model_name} v{version}"
