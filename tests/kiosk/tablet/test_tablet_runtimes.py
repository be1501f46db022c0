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
