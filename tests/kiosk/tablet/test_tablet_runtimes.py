"""Where the browser runtimes come from: the checkout's tablet/node_modules, or the folder the
environment names; an installed facescreen (no checkout two folders up) never reaches into
site-packages for it, and a version other than the package.json beside it pins is refused."""

from __future__ import annotations

import json

import pytest

from facescreen.kiosk.tablet import runtimes
from facescreen.kiosk.tablet.runtimes import NODE_MODULES_ENV, RUNTIMES, node_modules, package_version

REPO = runtimes.source_checkout()


def test_a_checkout_finds_its_own_node_modules(monkeypatch):
    monkeypatch.delenv(NODE_MODULES_ENV, raising=False)
    assert REPO is not None and node_modules() == REPO / "tablet" / "node_modules"


def test_an_installed_copy_asks_for_the_folder_instead_of_guessing(monkeypatch, tmp_path):
    monkeypatch.delenv(NODE_MODULES_ENV, raising=False)
    monkeypatch.setattr(runtimes, "source_checkout", lambda: None)
    with pytest.raises(FileNotFoundError, match=NODE_MODULES_ENV):
        node_modules()
    monkeypatch.setenv(NODE_MODULES_ENV, str(tmp_path))
    assert node_modules() == tmp_path


def _install(root, package: str, version: str, pinned: str) -> None:
    (root / "node_modules" / package).mkdir(parents=True)
    (root / "node_modules" / package / "package.json").write_text(json.dumps({"version": version}))
    (root / "package.json").write_text(json.dumps({"dependencies": {package: pinned}}))


def test_the_version_is_checked_against_the_package_json_beside_node_modules(tmp_path):
    runtime = RUNTIMES.lookup(RUNTIMES.names()[0])
    _install(tmp_path / "ok", runtime.package, "1.2.3", "1.2.3")
    assert package_version(runtime, tmp_path / "ok" / "node_modules") == "1.2.3"
    _install(tmp_path / "stale", runtime.package, "1.2.3", "9.9.9")
    with pytest.raises(RuntimeError, match="9.9.9"):
        package_version(runtime, tmp_path / "stale" / "node_modules")


def test_a_missing_artifact_is_reported_with_what_its_conversion_did(tmp_path):
    """The gate's refusal is relayed (converting again the same way is refused again); a target never
    tried gets the command; a record that cannot be read is named, not a traceback."""
    from types import SimpleNamespace

    from facescreen.edge.bundle import CONVERSION_RECORD, Bundle
    from facescreen.kiosk.tablet.export import missing_artifact

    runtime = RUNTIMES.lookup("onnxruntime-web")
    bundle = Bundle(tmp_path, SimpleNamespace(artifacts={"tflite-int8": {}}))
    never = missing_artifact(bundle, runtime)
    assert "has no 'onnx-int8' artifact, which onnxruntime-web runs; convert it first: " in never
    assert never.endswith(f"facescreen-convert {tmp_path} --to onnx-int8")

    refusal = "parity check failed, not written: flag agreement 97.0% is below the required 99.0%"
    rows = {"onnx-int8": {"status": "failed", "checked_at": "2026-12-06T07:00:00+00:00", "message": refusal}}
    (tmp_path / CONVERSION_RECORD).write_text(json.dumps({"artifacts": rows}))
    refused = missing_artifact(bundle, runtime)
    assert "the converters tried it (2026-12-06T07:00:00+00:00) and did not write it: " + refusal in refused
    assert "convert it first" not in refused

    (tmp_path / CONVERSION_RECORD).write_text(json.dumps({"artifacts": {"onnx": {"status": "written"}}}))
    assert "convert it first" in missing_artifact(bundle, runtime)  # another target's row says nothing of this one

    (tmp_path / CONVERSION_RECORD).write_text("{not json")
    broken = missing_artifact(bundle, runtime)
    assert f"{tmp_path / CONVERSION_RECORD} is not valid JSON" in broken and "convert it first" in broken
