"""facescreen-screen on folders: sub-folders searched, photos counted, an empty folder refused, every
CSV row saying which model, version and backend scored it and when, CAMs written alongside --csv."""

from __future__ import annotations

import csv
import datetime as dt
import io

import numpy as np
import pytest
from PIL import Image

from facescreen.edge.cli import main
from facescreen.edge.clikit import EXIT_FAILED, progress


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    import tf_free

    if tf_free.TF_FREE:  # the fixture model is built with Keras
        pytest.skip(tf_free.REASON)
    from facescreen.training.export import save_bundle
    from facescreen.training.model import ModelConfig, build_screener

    cfg = ModelConfig(backbone="resnet18", input_size=64, head_filters=(16,))
    return save_bundle(
        build_screener(cfg), cfg, tmp_path_factory.mktemp("bundle"), model_id="tiny-untrained", threshold=0.5
    )


@pytest.fixture
def photos(tmp_path, astronaut):
    """The training layout: photos/<class>/..., one photo that is not an image."""
    root = tmp_path / "photos"
    for label, img in (("control", astronaut), ("syndromic", astronaut[:, ::-1])):
        (root / label).mkdir(parents=True)
        Image.fromarray(np.ascontiguousarray(img)).save(root / label / "a.png")
    (root / "syndromic" / "broken.jpg").write_bytes(b"not a jpeg")
    (root / "notes.txt").write_text("not a photo")
    return root


def test_a_folder_of_class_folders_into_a_csv_with_cams(tiny_bundle, photos, tmp_path, capsys):
    out, cams = tmp_path / "scores.csv", tmp_path / "cams"
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    rc = main(
        [
            str(tiny_bundle),
            str(photos),
            "--csv",
            str(out),
            "--cam-dir",
            str(cams),
            "--backend",
            "keras",
            "--detector",
            "mtcnn",
        ]
    )
    captured = capsys.readouterr()
    assert rc == EXIT_FAILED  # one photo could not be screened; its row says why
    assert "found 3 photo(s) to screen" in captured.err
    assert "screened 2 of 3 photos" in captured.out
    rows = list(csv.DictReader(out.open()))
    assert sorted(r["path"] for r in rows) == sorted(
        str(photos / p) for p in ("control/a.png", "syndromic/a.png", "syndromic/broken.jpg")
    )
    for r in rows:
        assert (r["model_id"], r["model_version"], r["backend"]) == ("tiny-untrained", "1", "keras:keras")
        assert r["software_version"] and dt.datetime.fromisoformat(r["screened_at"]) >= before
    assert {r["status"] for r in rows} == {"ok", "bad_image"}
    # sub-folders mirrored, so the two a.png do not overwrite each other's CAM
    assert sorted(p.relative_to(cams).as_posix() for p in cams.rglob("*.png")) == [
        "control/a_cam.png",
        "syndromic/a_cam.png",
    ]


def test_an_empty_folder_is_refused_before_the_model_loads(tmp_path, capsys):
    (tmp_path / "photos" / "control").mkdir(parents=True)
    rc = main([str(tmp_path / "no-bundle-here"), str(tmp_path / "photos")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "no photos (.jpg" in err[0] and "or its sub-folders" in err[0]


def test_photos_named_searches_sub_folders_with_the_one_suffix_list(tmp_path):
    from facescreen.edge.photo import PHOTO_SUFFIXES, photos_named

    for rel in ("a/1.JPG", "a/b/2.webp", "3.tiff", ".hidden/4.jpg", "a/.5.png", "6.gif", "7.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    assert ".jpg" in PHOTO_SUFFIXES and ".gif" not in PHOTO_SUFFIXES
    found = [p.relative_to(tmp_path).as_posix() for p in photos_named([tmp_path])]
    assert found == ["3.tiff", "a/1.JPG", "a/b/2.webp"]
    assert photos_named([tmp_path / "6.gif"]) == [tmp_path / "6.gif"]  # a file named is taken as given


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_a_bar_on_a_terminal_and_stays_silent_in_a_pipe():
    tty, pipe = _Terminal(), io.StringIO()
    ticks = iter([0.0, 1.0, 2.0, 4.0])  # start, then after each item: 1 item/s
    assert list(progress(iter("abc"), 3, "screening", tty, clock=lambda: next(ticks))) == ["a", "b", "c"]
    assert list(progress(iter("abc"), 3, "screening", pipe)) == ["a", "b", "c"]
    frames = tty.getvalue().split("\r")[1:]
    assert frames[0] == "screening [########----------------] 1/3  1.0/s  ETA 0:02\x1b[K"
    assert frames[2] == "screening [########################] 3/3  0.8/s  ETA 0:00\x1b[K\n"
    assert pipe.getvalue() == ""


class _SlowScreener:
    """Stands in for a Screener in edge.folder.screen_many (which calls only prepare and
    screen_prepared): preparation takes a varying time, and it counts the prepared faces not yet
    screened, the quantity the pipeline must keep bounded."""

    def __init__(self):
        import threading

        self.lock = threading.Lock()
        self.waiting = 0
        self.most_waiting = 0

    def prepare(self, path):
        import time

        from facescreen.edge.errors import PhotoError

        time.sleep(0.001 * (hash(path.name) % 3))
        if path.name.startswith("bad"):
            raise PhotoError(f"{path} is not a photo")
        with self.lock:
            self.waiting += 1
            self.most_waiting = max(self.most_waiting, self.waiting)
        return path.name

    def screen_prepared(self, prepared):
        import time

        time.sleep(0.002)  # inference slower than preparation: the worker runs ahead until the bound
        with self.lock:
            self.waiting -= 1
        return f"result of {prepared}"


@pytest.mark.parametrize("depth", [1, 3])
def test_the_pipeline_keeps_order_and_a_bounded_number_of_prepared_photos(depth):
    from pathlib import Path

    from facescreen.edge.folder import FolderStats, screen_many

    paths = [Path(f"{'bad' if i % 7 == 3 else 'p'}{i}.jpg") for i in range(40)]
    fake, stats = _SlowScreener(), FolderStats()
    out = list(screen_many(fake, paths, depth=depth, stats=stats))
    assert [d.path for d in out] == paths  # the order given, whatever finished first
    assert [d.result for d in out if d.error is None] == [f"result of {p.name}" for p in paths if p.name[0] == "p"]
    assert [d.path.name for d in out if d.error is not None] == [
        "bad3.jpg",
        "bad10.jpg",
        "bad17.jpg",
        "bad24.jpg",
        "bad31.jpg",
        "bad38.jpg",
    ]
    assert 1 <= fake.most_waiting <= depth + 1  # `depth` ahead, and the one being inferred
    assert stats.photos == 40 and set(stats.stage_rates) == {"prepare", "screen"} and stats.max_waiting <= depth


def test_overlapped_folder_screening_writes_the_sequential_runs_csv(tiny_bundle, photos, astronaut, tmp_path, capsys):
    """The same rows, scores and errors, in the same order, with and without --no-overlap."""
    for i in range(6):  # more photos than the pipeline's depth, of different sizes
        crop = astronaut[i * 10 :, i * 5 :]
        Image.fromarray(np.ascontiguousarray(crop)).save(photos / "control" / f"c{i}.png")
    runs = {}
    for mode in ([], ["--no-overlap"]):
        out = tmp_path / f"scores{len(mode)}.csv"
        args = [str(tiny_bundle), str(photos), "--csv", str(out), "--backend", "keras", "--detector", "mtcnn"]
        assert main(args + mode) == EXIT_FAILED  # the broken photo
        runs[len(mode)] = [{k: v for k, v in r.items() if k != "screened_at"} for r in csv.DictReader(out.open())]
        err = capsys.readouterr().err
        assert "9 photos in" in err and "x the slowest stage" in err and "peak memory" in err
    assert runs[0] == runs[1] and len(runs[0]) == 9
