"""Use cases: one module per capability, each a function of ``Services`` (see
``domain.services.services``)."""

from domain.services.services import NOTHING_SERVED, Services, Serving

__all__ = ["NOTHING_SERVED", "Services", "Serving"]
