"""Each sub-package's third-party imports against the extras that install it (pyproject.toml).

A sub-package may import, anywhere in its code, what its own extras bring: the distributions they
name and, through the installed packages' own metadata, what those require (fastapi brings
starlette). Anything else is an optional import of one registry entry: it must be imported inside a
function (so the module still imports without it) and be listed in OPTIONAL with the extra, or the
system package, that provides it. Without this test `training/calibration.py` imported scipy, which
`[train]` did not declare: a `[train]`-only install failed at the end of a whole cross-validation.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

# the extras a sub-package is installed with (the base dependencies always come too)
HOME = {
    "edge": ("edge",),
    "kiosk": ("kiosk", "edge"),  # the kiosk runs a screener backend from [edge]
    "training": ("train",),
    # the converters read the bundle's model.keras with TensorFlow and Keras, which [train] brings, and
    # check what they wrote through the edge runtimes
    "converters": ("convert", "train", "edge"),
}

# (sub-package, import) -> where it comes from when the registry entry that imports it is used
OPTIONAL = {
    ("edge", "keras"): "[train]: the Keras backend",
    ("edge", "mtcnn"): "[train]: the reference MTCNN detector",
    ("edge", "tensorflow"): "[train]: tensorflow.lite, the last TFLite interpreter tried",
    ("edge", "tflite_runtime"): "older Jetson and Coral images: the second TFLite interpreter tried",
    ("edge", "tensorrt"): "JetPack's python3-libnvinfer: the TensorRT backend",
    ("edge", "cuda"): "[jetson] (cuda-python): the TensorRT backend's device memory",
    ("edge", "matplotlib"): "[train]: facescreen-bench's plot (the table is written without it)",
    ("edge", "skimage"): "[dev]: the sample photos of the synthetic cohort",
    ("edge", "onnx"): "[convert]: the benchmark's GEMM peaks, and reading an ONNX graph for TensorRT's type rules",
    ("kiosk", "matplotlib"): "[train] (or pip install matplotlib): the field report's plots, which say so when absent",
    ("training", "keras_hub"): "make installs keras-hub with --no-deps (its tensorflow-text would pull tensorflow)",
    ("training", "jax"): "[train-gpu] or [dev]: Grad-CAM under KERAS_BACKEND=jax",
    ("converters", "tensorrt"): "JetPack's python3-libnvinfer: the TensorRT engine builder",
}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(extras: tuple[str, ...]) -> set[str]:
    """The distributions installing facescreen with `extras` brings, read from pyproject and then
    from the installed packages' metadata (markers evaluated for this interpreter)."""
    todo = [Requirement(r) for r in PROJECT["dependencies"]]
    for extra in extras:
        todo += [Requirement(r) for r in PROJECT["optional-dependencies"][extra]]
    seen: set[str] = set()
    while todo:
        req = todo.pop()
        if req.name == "facescreen":
            todo += [Requirement(r) for e in req.extras for r in PROJECT["optional-dependencies"][e]]
            continue
        name = _normalise(req.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here (tensorrt, cuda-python): its name still counts
        for r in map(Requirement, requires):
            if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in (req.extras or {""})):
                todo.append(r)
    return seen


def _imports(folder: Path) -> dict[str, dict[str, bool]]:
    """{top-level import: {file: imported at module level}} of the third-party imports under folder."""
    found: dict[str, dict[str, bool]] = {}
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text())
        top_level = {id(n) for n in tree.body} | {
            id(n) for s in tree.body if isinstance(s, ast.Try | ast.If) for n in ast.walk(s)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ("facescreen", "__future__"):
                    continue
                rel = path.relative_to(REPO).as_posix()
                found.setdefault(top, {})[rel] = found.get(top, {}).get(rel, False) or id(node) in top_level
    return found


PROVIDERS = metadata.packages_distributions()


@pytest.mark.parametrize("sub", sorted(HOME))
def test_every_third_party_import_comes_with_the_sub_packages_extras(sub):
    allowed = _closure(HOME[sub])
    unexplained, eager = [], []
    for module, files in _imports(REPO / sub).items():
        dists = {_normalise(d) for d in PROVIDERS.get(module, [])}
        if dists & allowed:
            continue
        if (sub, module) not in OPTIONAL:
            unexplained.append(f"{module} ({', '.join(sorted(dists)) or 'not installed here'}) in {sorted(files)}")
        elif any(files.values()):
            eager.append(f"{module} at module level in {sorted(f for f, top in files.items() if top)}")
    assert not unexplained, (
        f"{sub}/ imports what [{', '.join(HOME[sub])}] does not install: {unexplained}; "
        "add it to an extra in pyproject.toml (and its pin to constraints.txt), or import it inside the "
        "function of the optional entry that needs it and list it in OPTIONAL"
    )
    assert not eager, f"{sub}/: an optional import must not stop the module importing: {eager}"


def test_the_optional_table_names_real_imports():
    """A row whose import has gone (or moved to another sub-package) is removed, not kept."""
    stale = [key for key in OPTIONAL if key[1] not in _imports(REPO / key[0])]
    assert not stale


def test_the_table_of_homes_names_every_sub_package_and_real_extras():
    assert set(HOME) == {p.parent.name for p in REPO.glob("*/__init__.py")} - {"facescreen"}
    assert {e for extras in HOME.values() for e in extras} <= set(PROJECT["optional-dependencies"])
