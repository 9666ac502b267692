"""ModelVersion: version numbers, statuses and A/B traffic weights."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import Conflict, InvalidInput
from domain.model import ModelStatus, ModelVersion
from tests.builders import a_model, a_model_version


def _version(**overrides: Any) -> ModelVersion:
    return a_model_version(a_model(), **overrides)


@pytest.mark.parametrize("bad", [0, -1, True, 1.0])
def test_a_version_number_is_a_positive_integer(bad: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        _version(version=bad)
    assert refused.value.field == "version"


def test_a_new_version_is_staged_without_traffic() -> None:
    version = _version()
    assert (version.status, version.traffic_weight) == (ModelStatus.STAGED, 0)


def test_an_active_version_takes_a_traffic_share() -> None:
    version = _version(status=ModelStatus.ACTIVE)
    version.set_traffic_weight(100)
    assert version.traffic_weight == 100
    version.set_traffic_weight(0)
    assert version.traffic_weight == 0


@pytest.mark.parametrize("status", [ModelStatus.STAGED, ModelStatus.SHADOW, ModelStatus.RETIRED])
def test_only_an_active_version_takes_traffic(status: ModelStatus) -> None:
    version = _version(status=status)
    with pytest.raises(Conflict, match="active"):
        version.set_traffic_weight(10)
    assert version.traffic_weight == 0
    with pytest.raises(Conflict):
        _version(status=status, traffic_weight=10)


@pytest.mark.parametrize("bad", [-1, 101, 50.0, True, "50"])
def test_a_traffic_weight_is_an_integer_from_0_to_100(bad: object) -> None:
    version = _version(status=ModelStatus.ACTIVE)
    with pytest.raises(InvalidInput) as refused:
        version.set_traffic_weight(bad)  # type: ignore[arg-type]
    assert refused.value.field == "traffic_weight"


@pytest.mark.parametrize("status", [ModelStatus.STAGED, ModelStatus.SHADOW, ModelStatus.RETIRED])
def test_leaving_active_drops_the_traffic_share(status: ModelStatus) -> None:
    version = _version(status=ModelStatus.ACTIVE, traffic_weight=60)
    version.change_status(status)
    assert (version.status, version.traffic_weight) == (status, 0)


def test_staying_active_keeps_the_traffic_share() -> None:
    version = _version(status=ModelStatus.ACTIVE, traffic_weight=60)
    version.change_status(ModelStatus.ACTIVE)
    assert version.traffic_weight == 60


def test_an_unknown_status_is_refused() -> None:
    version = _version()
    with pytest.raises(InvalidInput, match="staged, active, shadow, retired"):
        version.change_status("paused")  # type: ignore[arg-type]


def test_an_artifact_digest_must_be_sha256_hex() -> None:
    assert _version(artifact_sha256="AB" * 32).artifact_sha256 == "ab" * 32
    with pytest.raises(InvalidInput, match="artifact_sha256"):
        _version(artifact_sha256="abc")
