"""The built wheel, installed into a fresh environment: one top-level import (`facescreen`), every
sub-package and data file inside it, `import edge` failing, `python -m facescreen.kiosk` and the
five console scripts answering. Also: pyproject keeps ranges, constraints.txt the exact pins.

The wheel is built from a copy of the sources (so no build/ or egg-info lands in the checkout) by
pip with this environment's setuptools (pinned in [dev]), without build isolation or the package index. The fresh
environment has no pip and no dependencies of its own; a .pth file points it at the dependency
folders of the interpreter running the tests (a .pth-listed folder's own .pth files, such as an
editable install's finder, are not run, so the checkout never leaks in).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
SUBPACKAGES = {
    "edge": "facescreen.edge",
    "training": "facescreen.training",
    "converters": "facescreen.converters",
    "kiosk": "facescreen.kiosk",
}
SCRIPTS = sorted(PYPROJECT["project"]["scripts"])
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "facescreen", *SUBPACKAGES)


def _packages_in_tree() -> set[str]:
    found = {"facescreen"}
    for folder, name in SUBPACKAGES.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            found.add(".".join([name, *rel.parts]))
    return found


def test_every_package_folder_is_listed_in_pyproject():
    """A sub-package missing from `packages` is silently left out of the wheel."""
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert _packages_in_tree() - listed == set()
    assert listed - _packages_in_tree() == set()


def test_facescreen_links_each_mapped_folder_for_static_tools():
    """mypy and IDEs do not read setuptools' package-dir: they find `facescreen.edge` through the link
    facescreen/edge -> ../edge. A mapping without its link (or a link to the wrong folder) leaves
    `facescreen.*` imports unresolved for them while the editable install still imports."""
    mapping = PYPROJECT["tool"]["setuptools"]["package-dir"]
    links = {f"facescreen.{p.name}": p for p in (REPO / "facescreen").iterdir() if p.is_symlink()}
    assert set(links) == set(mapping) - {"facescreen"}
    for package, link in links.items():
        assert os.readlink(link) == f"../{mapping[package]}", package
        assert link.resolve() == (REPO / mapping[package]).resolve(), package


def test_ranges_in_pyproject_pins_in_constraints():
    project = PYPROJECT["project"]
    # train-gpu is the GPU workstation's alternative to [train] (tensorflow[and-cuda], jax[cuda12]): its
    # CUDA wheels are not in the CPU constraint set; an extra naming facescreen[...] is a self-reference
    requirements = project["dependencies"] + [
        r
        for name, extra in project["optional-dependencies"].items()
        if name != "train-gpu"
        for r in extra
        if not r.startswith("facescreen[")
    ]
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    assert not [r for r in requirements if "==" in r]
    names = {re.sub(r"[-_.]+", "-", re.split(r"[<>=!~ \[;]", r, maxsplit=1)[0]).lower() for r in requirements}
    # TensorRT and cuda-python come with JetPack, never from the index
    assert names - set(pins) - {"tensorrt", "cuda-python"} == set()
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert "Apache License" in (REPO / "LICENSE").read_text() and "Version 2.0" in (REPO / "LICENSE").read_text()


def _dependency_folders() -> list[str]:
    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *sys.path}
    return sorted(p for p in paths if p and Path(p).is_dir() and Path(p).name in ("site-packages", "dist-packages"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(wheel, the fresh environment's python) with the wheel installed, nothing else."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    # the build backend from this environment ([dev] pins setuptools and wheel): no package index, so
    # nothing to skip for; a build that fails is a packaging failure
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(root / "dist"),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    wheels = list((root / "dist").glob("facescreen-*.whl"))
    assert proc.returncode == 0 and len(wheels) == 1, proc.stderr[-3000:]
    env_dir = root / "env"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "_dependencies.pth").write_text("\n".join(_dependency_folders()) + "\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheels[0]),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return wheels[0], python


def _run(args: list[str], cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


def test_the_wheel_has_one_top_level_import_and_every_file(installed):
    wheel, _ = installed
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        top_level = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
        assert z.read(top_level).decode().split() == ["facescreen"]
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"facescreen"}
    for package in _packages_in_tree():
        assert package.replace(".", "/") + "/__init__.py" in names, package
    for folder, package in SUBPACKAGES.items():  # data files too (the kiosk's capture page)
        for f in (REPO / folder).rglob("*"):
            if f.suffix in (".html", ".js", ".css", ".json") and "__pycache__" not in f.parts:
                assert package.replace(".", "/") + "/" + f.relative_to(REPO / folder).as_posix() in names, f
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_installed_imports_as_facescreen_only(installed, tmp_path):
    _, python = installed
    proc = _run(
        [
            str(python),
            "-c",
            "import facescreen.edge, facescreen.kiosk, facescreen.training.cli, "
            "facescreen.converters.cli; print(facescreen.edge.__file__)",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert str(python.parents[1]) in proc.stdout and str(REPO) not in proc.stdout  # the wheel, not the checkout
    for name in SUBPACKAGES:
        proc = _run([str(python), "-c", f"import {name}"], tmp_path)
        assert proc.returncode != 0 and f"No module named '{name}'" in proc.stderr


def test_installed_commands_answer(installed, tmp_path):
    import facescreen
    from facescreen.edge.bundle import SCHEMA_VERSION

    _, python = installed
    proc = _run([str(python), "-m", "facescreen.kiosk", "--help"], tmp_path)
    assert proc.returncode == 0 and "usage: facescreen-kiosk" in proc.stdout, proc.stderr
    for script in SCRIPTS:
        proc = _run([str(python.parent / script), "--version"], tmp_path)
        assert proc.returncode == 0, (script, proc.stderr)
        assert proc.stdout.strip() == f"{script} {facescreen.__version__} (model card schema {SCHEMA_VERSION})"
