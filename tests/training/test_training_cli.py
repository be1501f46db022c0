"""facescreen-train's command line: --help without TensorFlow, an existing --out refused before any
photo is aligned, and the alignment cache only where the run or the user says."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tf_free
from factories import cv_argv
from PIL import Image

from facescreen.training.cli import main
from facescreen.training.rundir import ALIGN_CACHE

BLOCK_TENSORFLOW = tf_free.blocking_prelude((*tf_free.BLOCKED, "jax")) + textwrap.dedent("""
    from facescreen.training.cli import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--help"], "usage: facescreen-train"),
        (["--version"], "facescreen-train "),
        (["demo-bundle", "--help"], "usage: facescreen-train demo-bundle"),
    ],
)
def test_help_and_version_without_tensorflow(argv, expected):
    proc = subprocess.run([sys.executable, "-c", BLOCK_TENSORFLOW, *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert expected in proc.stdout and "blocked" not in proc.stderr


def test_the_blocker_does_block():
    """The subprocess above would fail where Keras is needed (so its passing means something)."""
    proc = subprocess.run(
        [sys.executable, "-c", BLOCK_TENSORFLOW, "cv", "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode != 0 and "keras is blocked" in proc.stderr


@tf_free.requires_tensorflow
def test_a_mistake_is_one_line_without_the_banners_keras_prints_as_the_flags_are_built(tmp_path):
    """The command's flags are read off its configuration, which imports Keras: TensorFlow's start-up
    banners came out before the filter was set up, around the one line a mistake gets."""
    from facescreen.edge.clikit import NATIVE_NOISE

    f = tmp_path / "cfg.yaml"
    f.write_bytes("fit: {epochs: 3}  # réglages\n".encode("cp1252"))
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    run = "import sys; from facescreen.training.cli import main; sys.exit(main())"
    quiet, loud = (
        subprocess.run(
            [sys.executable, "-c", run, *flag, "config", "--config", str(f)],
            capture_output=True,
            text=True,
            env=env,
            timeout=180,
        )
        for flag in ([], ["-v"])
    )
    error = f"facescreen-train: error: {f} is not UTF-8 text (byte 0xe9 on line 1); save it as UTF-8"
    assert quiet.returncode == 2 and quiet.stderr.splitlines() == [error], quiet.stderr
    # what the filter took out (-v keeps it), so the quiet run's one line means something
    assert loud.returncode == 2 and any(NATIVE_NOISE.match(line) for line in loud.stderr.splitlines()), loud.stderr


@pytest.fixture
def photo_folder(tmp_path) -> Path:
    """ROOT/<class>/*.jpg with blank pictures: enough to read a cohort, never to train."""
    root = tmp_path / "photos"
    for label in ("control", "syndromic"):
        (root / label).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(np.full((64, 64, 3), 100 + i, np.uint8)).save(root / label / f"{i}.jpg")
    return root


class Aligned(Exception):
    """Raised by the spy where the photos would be aligned."""


@pytest.fixture
def align_spy(monkeypatch):
    """Stops a run where it would align the first photo, recording where the cache would live."""
    import facescreen.training.experiment as experiment

    seen: list[Path] = []

    class Spy(experiment.AlignmentCache):
        def align(self, photos, progress=True):
            seen.append(self.root)
            raise Aligned(str(self.root))

    monkeypatch.setattr(experiment, "AlignmentCache", Spy)
    return seen


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A home directory (and XDG cache) of its own, to see that nothing lands there."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    return home


CV = ["cv", "--init", "none", "--backbone", "resnet18", "--input-size", "48"]


@pytest.mark.parametrize(
    "planted, message",
    [
        ("notes.txt", "exists and is not empty"),
        ("config.yaml", "already holds a run; pass --resume"),
    ],
)
def test_an_existing_out_is_refused_before_aligning(photo_folder, tmp_path, align_spy, capsys, planted, message):
    out = tmp_path / "run"
    out.mkdir()
    (out / planted).write_text("seed: 1\n")
    rc = main([*CV, "--data", str(photo_folder), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and message in err[0], err
    assert align_spy == []  # never reached the alignment


def test_the_alignment_cache_lives_in_the_run_directory(photo_folder, tmp_path, align_spy, home):
    out = tmp_path / "run"
    with pytest.raises(Aligned):
        main([*CV, "--data", str(photo_folder), "--out", str(out)])
    assert align_spy == [out / ALIGN_CACHE]
    assert list(home.iterdir()) == []


def test_the_alignment_cache_goes_where_the_user_says(photo_folder, tmp_path, align_spy, home):
    cache = tmp_path / "shared-cache"
    with pytest.raises(Aligned):
        main([*CV, "--data", str(photo_folder), "--out", str(tmp_path / "run"), "--align-cache", str(cache)])
    assert align_spy == [cache]
    assert list(home.iterdir()) == []


def test_a_run_interrupted_while_aligning_can_start_again(photo_folder, tmp_path, align_spy):
    """Only the run's own cache in --out: not 'an existing run', the aligned faces are reused."""
    out = tmp_path / "run"
    (out / ALIGN_CACHE / "ab").mkdir(parents=True)
    with pytest.raises(Aligned):
        main([*CV, "--data", str(photo_folder), "--out", str(out)])
    assert align_spy == [out / ALIGN_CACHE]


def test_prepare_data_has_no_default_cache_folder(photo_folder):
    from facescreen.training.config import build_config
    from facescreen.training.experiment import prepare_data

    with pytest.raises(ValueError, match="alignment cache folder"):
        prepare_data(photo_folder, build_config("quick-cpu"), progress=False)


def test_two_threshold_targets_are_one_line_and_exit_2(tmp_path, capsys):
    from facescreen.training.cli import main

    argv = cv_argv(tmp_path, tmp_path / "run", "--target-sensitivity", "0.9", "--target-specificity", "0.9")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--target-sensitivity or --target-specificity, not both" in err[0]
