"""OpenAPI links: which answer feeds which next call, declared in the document so clients
(and schemathesis's stateful tests) can follow them.

Litestar's route decorators cannot declare links, so ``declare_links(app)`` adds them to
the generated document. Each link names its target by ``operationRef`` (path and method),
which does not change when Litestar's generated operation ids do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from litestar import Litestar
from litestar.openapi.spec import Link, OpenAPIResponse

from entrypoints.http.context import API_PREFIX

_TRANSACTION = f"{API_PREFIX}/transactions/{{tx_hash}}"
_LABEL = f"{_TRANSACTION}/label"


@dataclass(frozen=True, slots=True)
class _Link:
    name: str
    path: str
    method: str
    parameters: Mapping[str, str]
    description: str


# (source path, method, status) -> the links from that answer.
LINKS: Mapping[tuple[str, str, str], tuple[_Link, ...]] = {
    (f"{API_PREFIX}/predict", "post", "200"): (
        _Link(
            "GetTransaction",
            _TRANSACTION,
            "get",
            {"path.tx_hash": "$response.body#/hash"},
            "The scored transaction, with its predictions",
        ),
        _Link(
            "LabelTransaction",
            _LABEL,
            "put",
            {"path.tx_hash": "$response.body#/hash"},
            "Label the scored transaction",
        ),
    ),
    (f"{API_PREFIX}/predict/batch", "post", "200"): (
        _Link(
            "GetFirstTransaction",
            _TRANSACTION,
            "get",
            {"path.tx_hash": "$response.body#/predictions/0/hash"},
            "The first scored transaction of the batch",
        ),
    ),
    (_TRANSACTION, "get", "200"): (
        _Link(
            "LabelTransaction",
            _LABEL,
            "put",
            {"path.tx_hash": "$request.path.tx_hash"},
            "Label this transaction",
        ),
    ),
    (_LABEL, "put", "200"): (
        _Link(
            "GetTransaction",
            _TRANSACTION,
            "get",
            {"path.tx_hash": "$request.path.tx_hash"},
            "The transaction with its new label",
        ),
    ),
}


def _operation_ref(path: str, method: str) -> str:
    escaped = path.replace("~", "~0").replace("/", "~1")
    return f"#/paths/{escaped}/{method}"


def declare_links(app: Litestar) -> None:
    """Add ``LINKS`` to ``app``'s OpenAPI document; a missing source or target is a bug."""
    paths = app.openapi_schema.paths or {}
    for (path, method, status), links in LINKS.items():
        operation = getattr(paths[path], method)
        response = operation.responses[status]
        if not isinstance(response, OpenAPIResponse):
            raise RuntimeError(f"{method.upper()} {path} {status} is not a response object")
        for link in links:
            if getattr(paths[link.path], link.method) is None:
                raise RuntimeError(f"link {link.name}: no {link.method.upper()} {link.path}")
            response.links = {
                **(response.links or {}),
                link.name: Link(
                    operation_ref=_operation_ref(link.path, link.method),
                    parameters=dict(link.parameters),
                    description=link.description,
                ),
            }
