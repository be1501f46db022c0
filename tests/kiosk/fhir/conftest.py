"""FHIR fixtures: a day's screenings in a real results store, a model bundle's card, and a real FHIR
R4 server (Medplum's FHIR router over its in-memory repository, tests/kiosk/fhir/server/server.mjs)
started by the tests, installed from npm by `make fhir-server`."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import factories
import numpy as np
import pytest

from facescreen.edge.bundle import save_card
from facescreen.edge.result import ScreeningResult
from facescreen.kiosk.store import ResultsStore

SERVER_DIR = Path(__file__).resolve().parent / "server"
TOKEN = "fhir-test-token"


def make_result(p: float, model_version: str = "3") -> ScreeningResult:
    """A screening by this suite's model (m-test, the bundle of :func:`model_bundle`) on the kiosk's LiteRT."""
    return factories.make_result(p, model_version=model_version, backend="litert:int8")


@pytest.fixture
def result_of():
    """make_result, for tests that store their own screenings."""
    return make_result


@pytest.fixture
def model_bundle(tmp_path) -> Path:
    """A bundle folder holding only its model card (the Device needs the card and its hash)."""
    card = factories.make_card(model_id="m-test", version="3", backbone="vgg16", intended_use="research only")
    save_card(tmp_path / "bundle", card)
    return tmp_path / "bundle"


@dataclass
class Day:
    data_dir: Path
    ids: list[str]
    flagged: list[str]
    consented: str


@pytest.fixture
def day(tmp_path) -> Day:
    """Six screenings: three flagged, one with a consented photo, one (flagged) with the child's
    programme reference REG-0042, one retaken (never exported)."""
    store = ResultsStore(tmp_path / "data")
    probs = [0.91, 0.12, 0.55, 0.30, 0.77, 0.05]
    ids = []
    photo = np.full((64, 48, 3), 128, np.uint8)
    for i, p in enumerate(probs):
        consent = i == 0
        s = store.add(
            make_result(p),
            {"sharpness": {"passed": True}},
            kiosk_id="kiosk-7",
            source="kiosk",
            consent=consent,
            photo=photo if consent else None,
            child_ref="REG-0042" if i == 2 else None,  # issue 25's programme reference, on a flagged result
        )
        ids.append(s.id)
    store.set_status(ids[5], "retaken")
    store.close()
    return Day(tmp_path / "data", ids[:5], [ids[0], ids[2], ids[4]], ids[0])


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (SERVER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        pytest.fail("the FHIR test server is not installed: run `make fhir-server` (node and npm needed)")
    return node


@pytest.fixture(scope="session")
def fhir_server():
    """(base URL, token) of a fresh Medplum FHIR router on a free loopback port; stopped at the end."""
    proc = subprocess.Popen(
        [_node(), str(SERVER_DIR / "server.mjs"), "--token", TOKEN],
        cwd=SERVER_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    try:
        deadline = time.monotonic() + 120  # indexing the R4 definitions takes seconds on a busy machine
        line = ""
        while time.monotonic() < deadline and not line.startswith("listening"):
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                pytest.fail(f"the FHIR test server exited: {proc.stderr.read()[-2000:]}")
        if not line.startswith("listening"):
            pytest.fail("the FHIR test server did not start within 120 s")
        yield f"http://127.0.0.1:{int(line.split()[1])}/fhir/R4", TOKEN
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
