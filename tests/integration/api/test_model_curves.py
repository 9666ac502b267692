"""A version's evaluation pictures as data: its ROC curve (from the labelled held-out rows)
and its score histogram, kept at training time and answered by
``GET /models/{name}/versions/{version}`` (and every listing of versions) in the shape the
OpenAPI document declares."""

from __future__ import annotations

import itertools
import math
from typing import Any

from adapters.synthetic import generate_stream
from domain.model import Role
from domain.services.imports import import_transactions
from tests.integration.api.conftest import Api
from tests.integration.api.test_models import create, trained

ROWS = 2_000
SEED = 1  # its newest 20% hold 34 fraud rows: enough for a labelled evaluation


async def labelled_history(api: Api, label_share: float) -> None:
    stream = generate_stream(ROWS, SEED)
    labels = stream.sample_labels(label_share, seed=SEED)
    await import_transactions(
        api.container.services, stream.transactions, labels, "test", actor=None
    )


async def version(api: Api, name: str, number: int, role: Role = Role.VIEWER) -> Any:
    return await api.client.get(f"/api/v1/models/{name}/versions/{number}", headers=api.as_(role))


def trapezoid_area(points: list[dict[str, Any]]) -> float:
    return math.fsum(
        (b["fpr"] - a["fpr"]) * (a["tpr"] + b["tpr"]) / 2 for a, b in itertools.pairwise(points)
    )


async def test_a_labelled_version_has_its_roc_curve_and_score_histogram(api: Api) -> None:
    await labelled_history(api, 1.0)
    assert (await create(api, "curved")).status_code == 201
    job = await trained(api, "curved")
    assert job["status"] == "succeeded", job

    answer = await version(api, "curved", 1)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    metrics = body["metrics"]
    assert metrics["evaluation"] == "labelled"
    assert "roc_curve" not in metrics  # typed fields of their own
    assert "score_histogram" not in metrics

    curve = body["roc_curve"]
    points = curve["points"]
    assert (curve["fraud"], curve["legitimate"]) == (
        metrics["held_out_fraud"],
        metrics["held_out_legitimate"],
    )
    assert 2 <= len(points) <= 100
    assert (points[0]["fpr"], points[0]["tpr"], points[0]["threshold"]) == (0.0, 0.0, None)
    assert (points[-1]["fpr"], points[-1]["tpr"]) == (1.0, 1.0)
    assert abs(trapezoid_area(points) - metrics["roc_auc"]) < 0.02

    histogram = body["score_histogram"]
    assert histogram["rows"] == "held-out"
    assert len(histogram["bins"]) == 20
    assert histogram["count"] == sum(b["count"] for b in histogram["bins"])
    assert histogram["count"] == metrics["held_out_rows"]
    assert sum(b["fraud"] for b in histogram["bins"]) == metrics["held_out_fraud"]
    assert histogram["threshold"] == 1 - metrics["alert_share"]

    listed = await api.client.get("/api/v1/models/curved/versions", headers=api.as_(Role.VIEWER))
    assert listed.json()["versions"][0]["roc_curve"] == curve


async def test_an_unlabelled_version_has_a_histogram_but_no_roc_curve(api: Api) -> None:
    await labelled_history(api, 0.0)
    assert (await create(api, "plain")).status_code == 201
    assert (await trained(api, "plain"))["status"] == "succeeded"
    body = (await version(api, "plain", 1)).json()
    assert body["metrics"]["evaluation"] == "score-statistics"
    assert body["roc_curve"] is None
    assert body["score_histogram"]["count"] == body["metrics"]["held_out_rows"]
    assert body["drift"] is None  # staged: it serves nothing


async def test_an_unknown_version_or_model_is_a_404_problem(api: Api) -> None:
    assert (await create(api, "empty")).status_code == 201
    for name, number in (("empty", 1), ("nothing-here", 1)):
        answer = await version(api, name, number)
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("application/problem+json")
    refused = await version(api, "empty", 0)
    assert refused.status_code in (400, 422)  # out of range: not looked up


async def test_the_openapi_document_declares_the_curves() -> None:
    from entrypoints.bootstrap import bootstrap_in_memory
    from entrypoints.http import create_app

    schema = create_app(bootstrap_in_memory(bootstrap_model=False)).openapi_schema.to_schema()
    components = schema["components"]["schemas"]
    version_out = components["VersionOut"]["properties"]
    assert {"roc_curve", "score_histogram"} <= set(version_out)
    assert set(components["RocPointOut"]["properties"]) == {"fpr", "tpr", "threshold"}
    assert "/api/v1/models/{name}/versions/{version}" in schema["paths"]
    assert "get" in schema["paths"]["/api/v1/models/{name}/versions/{version}"]
