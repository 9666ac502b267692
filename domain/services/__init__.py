"""Use cases: one module per capability, each a function of ``Services`` (see
``domain.services.services``)."""

from domain.services.services import Services

__all__ = ["Services"]
