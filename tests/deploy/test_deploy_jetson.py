"""deploy/jetson: the install script and unit are linted, the pins are the Jetson's, and the README's
Jetson section is the script's steps, in order. (Nothing here claims the script ran on a Jetson.)"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
JETSON = REPO / "deploy" / "jetson"
# every shell script we ship or run: the Jetson install, the set-up scripts and the CI entry point
SCRIPTS = [*sorted(JETSON.glob("*.sh")), *sorted((REPO / "deploy" / "dev").glob("*.sh")), REPO / ".ci" / "run"]


def _pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        spec = line.split("#")[0].strip()
        if spec:
            name, version = spec.split("==")
            out[name.lower().replace("_", "-")] = version
    return out


@pytest.mark.skipif(
    shutil.which("shellcheck") is None and not os.environ.get("FACESCREEN_CI"),
    reason="shellcheck is not installed here (apt-get install -y shellcheck); CI installs it",
)
def test_shellcheck_passes():
    r = subprocess.run(["shellcheck", *map(str, SCRIPTS)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def test_jetson_pins_keep_system_opencv_and_tensorrt():
    pins = _pins(JETSON / "constraints-jetson.txt")
    assert pins["numpy"].startswith("1.26.") and pins["onnxruntime"] == "1.23.2" and pins["ai-edge-litert"] == "2.3.0"
    assert not [p for p in pins if p.startswith("opencv") or p.startswith("tensorrt")]
    assert {"fastapi", "uvicorn", "pydantic", "python-multipart", "cuda-python"} <= set(pins)
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert not [d for d in extras["jetson"] if "opencv" in d or d.startswith("tensorrt")]
    assert all(any("opencv" in d for d in extras[e]) for e in ("edge", "kiosk", "train", "convert"))


def test_install_script_steps_and_readme_agree():
    script = (JETSON / "install.sh").read_text()
    steps = re.findall(r'^step "(\d+)\. ([^"]+)"', script, re.MULTILINE)
    assert [int(n) for n, _ in steps] == list(range(1, len(steps) + 1))
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Deploy to a Jetson") :]
    section = section[: section.index("\n## ", 3)]
    heads = [(n, re.split(r"[:,(]", title)[0].strip()) for n, title in steps]  # "3. A virtual environment ..."
    positions = [section.find(f"\n{n}. {head}") for n, head in heads]
    assert all(p >= 0 for p in positions), [h for h, p in zip(heads, positions) if p < 0]
    assert positions == sorted(positions)
    assert "--system-site-packages" in script and "constraints-jetson.txt" in script
    assert 'facescreen-kiosk" doctor' in script and 'facescreen-convert" "$BUNDLE" --to' in script


def test_unit_restarts_and_keeps_results_on_disk():
    unit = (JETSON / "facescreen-kiosk.service").read_text()
    assert "Restart=on-failure" in unit and "--fullscreen" in unit and "WantedBy=graphical.target" in unit
    assert "FACESCREEN_DATA=@DATA@" in unit and "/tmp" not in unit.split("ExecStart=")[1].split("\n")[0]
    assert "DATA=/var/lib/facescreen" in (JETSON / "install.sh").read_text()
