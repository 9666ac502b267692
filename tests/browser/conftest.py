"""The console in a real browser: headless Chromium (Debian's ``chromium`` package, driven
by Playwright) against a real ``chainwatch serve`` on a scratch PostgreSQL database.

Chromium is ``/usr/bin/chromium`` (``CHAINWATCH_CHROMIUM`` overrides it); ``make test``
installs it with ``apt-get install -y chromium`` when it is missing. Without a browser the
tests are skipped - or fail when ``CI=true``, like PostgreSQL tests. Screenshots of every
page, at 1280 and 390 px wide, go to ``tests/artifacts/screenshots`` (kept by CI, ignored
by git).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.model import Anomaly, ModelVersion, Severity, Transaction
from tests.backends import create_scratch_postgres, drop_scratch_postgres, run_in_thread
from tests.builders import a_model, a_model_version, a_prediction, a_transaction, an_anomaly, at
from tests.integration.faults.servers import chainwatch, server_environment, serving
from tests.integration.processes import database_for

CHROMIUM = os.environ.get("CHAINWATCH_CHROMIUM") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).parent.parent / "artifacts" / "screenshots"
WIDTHS = {"desktop": 1280, "phone": 390}
PASSWORD = "browser-tests-password-1"
MODEL = "browser-suite"


@dataclass
class Seeded:
    """What the suite's database holds besides the bootstrap model."""

    version: ModelVersion
    critical: list[Anomaly]
    """Open critical anomalies of ``MODEL``:1, newest last."""
    others: list[Anomaly]
    transactions: dict[str, Transaction]


@dataclass
class Console:
    url: str
    keys: dict[str, str]
    """API keys by role: admin, analyst, viewer."""
    seeded: Seeded
    database_url: str
    """The scratch database the server runs on (for tests that seed more)."""
    log: Path
    """The server's output (what it logged)."""

    def api(self, role: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": self.keys[role]}, timeout=30)


def _browser_missing(reason: str) -> None:
    message = f"headless Chromium is not usable ({reason}); install it: apt-get install -y chromium"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _browser_missing(f"{CHROMIUM} does not exist")
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            # --no-sandbox: CI and these sessions run as root.
            launched = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
            )
        except Error as error:
            _browser_missing(str(error).splitlines()[0])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="package")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """A ready server on a scratch database with a user per role and seeded anomalies."""
    url = run_in_thread(lambda: create_scratch_postgres("chainwatch_browser"))
    try:
        folder = tmp_path_factory.mktemp("console")
        environment = server_environment(
            url, folder / "data", CHAINWATCH_AUTH_FAILURES_PER_ADDRESS="off"
        )
        with serving(environment, folder / "serve.log") as server:
            keys = {
                role: chainwatch(
                    environment, "create-user", "--username", f"{role}-1", "--role", role
                )
                .strip()
                .splitlines()[-1]
                for role in ("admin", "analyst", "viewer")
            }
            with httpx.Client(base_url=server.url, headers={"X-API-Key": keys["admin"]}) as admin:
                created = admin.post(
                    "/api/v1/users",
                    json={"username": "casey", "role": "analyst", "password": PASSWORD},
                )
                assert created.status_code == 201, created.text
            seeded = run_in_thread(lambda: _seed(url))
            yield Console(server.url, keys, seeded, url, folder / "serve.log")
    finally:
        run_in_thread(lambda: drop_scratch_postgres(url))


async def _seed(url: str) -> Seeded:
    """Anomalies of a model of the suite's own, written through the domain's ports."""
    database = database_for(url)
    await database.start()
    try:
        model = a_model(name=MODEL)
        version = a_model_version(model)
        transactions = [a_transaction(timestamp=at(i)) for i in range(12)]
        predictions = [
            a_prediction(tx, version, created_at=at(i)) for i, tx in enumerate(transactions)
        ]
        anomalies = [
            an_anomaly(
                p,
                detected_at=at(i),
                severity=Severity.CRITICAL if i % 3 == 0 else Severity.MEDIUM,
            )
            for i, p in enumerate(predictions)
        ]
        async with database.uow() as uow:
            await uow.models.add_model(model)
            await uow.models.add_version(version)
            await uow.transactions.add_many(transactions)
            await uow.predictions.add_many(predictions)
            await uow.anomalies.add_many(anomalies)
            await uow.commit()
    finally:
        await database.stop()
    return Seeded(
        version=version,
        critical=[a for a in anomalies if a.severity is Severity.CRITICAL],
        others=[a for a in anomalies if a.severity is not Severity.CRITICAL],
        transactions={tx.hash: tx for tx in transactions},
    )


@pytest.fixture(params=list(WIDTHS))
def width(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
