"""The OpenAPI document's links point at real operations and fill real parameters."""

from __future__ import annotations

import re

from entrypoints.bootstrap import bootstrap_in_memory
from entrypoints.http import create_app
from entrypoints.http.links import LINKS


def test_every_declared_link_is_in_the_document_and_fills_its_targets_path() -> None:
    document = create_app(bootstrap_in_memory(bootstrap_model=False)).openapi_schema.to_schema()
    for (path, method, status), links in LINKS.items():
        declared = document["paths"][path][method]["responses"][status]["links"]
        for link in links:
            target = document["paths"][link.path][link.method]
            ref = declared[link.name]["operationRef"]
            assert ref == "#/paths/" + link.path.replace("/", "~1") + "/" + link.method
            wanted = set(re.findall(r"{([^}]+)}", link.path))
            filled = {name.removeprefix("path.") for name in declared[link.name]["parameters"]}
            assert filled == wanted, (link.name, filled, wanted)
            assert {p["name"] for p in target.get("parameters", []) if p["in"] == "path"} == wanted
