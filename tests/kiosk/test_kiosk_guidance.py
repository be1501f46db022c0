"""The guidance loop driven from image-folder replay, as the demo and a kiosk replay drive it."""

from __future__ import annotations

import numpy as np
import pytest

from facescreen.edge.result import NO_FLAG, REFER
from facescreen.kiosk.app import KioskApp
from facescreen.kiosk.display import FolderOutput, JsonLinesOutput, Renderer
from facescreen.kiosk.guidance import GuidanceConfig, GuidanceLoop
from facescreen.kiosk.messages import message
from facescreen.kiosk.scenes import FAILING_SCENES, GOOD_SCENES, write_sequence
from facescreen.kiosk.sources import ImageFolderSource
from facescreen.kiosk.store import ResultsStore


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def replay_dir(tmp_path_factory):
    """Every failing scene once, then the good frames: a whole session in one folder."""
    d = tmp_path_factory.mktemp("replay")
    write_sequence(d, FAILING_SCENES + GOOD_SCENES)
    return d


def run_replay(engine, folder, clock=None, store=None, **cfg):
    loop = GuidanceLoop(engine, GuidanceConfig(**cfg), clock=clock or FakeClock())
    app = KioskApp(ImageFolderSource(folder), loop, [], store=store, kiosk_id="test-kiosk")
    return app, app.run()


def test_replay_gives_one_instruction_per_failing_frame_then_captures_and_screens(engine, replay_dir, tmp_path):
    store = ResultsStore(tmp_path / "data")
    app, events = run_replay(engine, replay_dir, store=store)
    n_fail = len(FAILING_SCENES)
    assert [e.kind for e in events] == ["guidance"] * n_fail + ["hold", "hold", "result"]
    for scene, ev in zip(FAILING_SCENES, events):
        assert ev.message_key == scene.expect, (scene.name, ev.message_key)
        assert ev.text == message(scene.expect, "en") and ev.text  # one plain-language sentence
    assert [e.streak for e in events[n_fail : n_fail + 2]] == [1, 2]
    result_ev = events[-1]
    r = result_ev.result
    assert r.label in (REFER, NO_FLAG) and r.not_for_clinical_use and r.model_id
    # the sharpest of the three passing frames (the unblurred one) was the one screened
    assert GOOD_SCENES[result_ev.captured_frame - n_fail].blur_sigma == min(s.blur_sigma for s in GOOD_SCENES)
    assert result_ev.report["sharpness"].raw >= max(e.report["sharpness"].raw for e in events[n_fail : n_fail + 2])
    # screened through edge's one path: the result carries the detection and CAM of that frame
    assert r.detection is not None and r.cam is not None and result_ev.cam_image is not None
    # stored: one row, no photo
    rows = store.list()
    assert len(rows) == 1 and rows[0]["id"] == result_ev.record["id"] and rows[0]["photo_file"] is None
    assert rows[0]["quality"]["sharpness"]["passed"] is True and rows[0]["kiosk_id"] == "test-kiosk"
    assert not (tmp_path / "data" / "photos").exists()


def test_a_failing_frame_breaks_the_streak(engine, scene_frames):
    loop = GuidanceLoop(engine, GuidanceConfig(consecutive_frames=2), clock=FakeClock())
    assert loop.step(scene_frames["good_b"]).kind == "hold"
    assert loop.step(scene_frames["tilted"]).message_key == "head_level"
    assert loop.step(scene_frames["good_b"]).streak == 1  # counting starts again
    assert loop.step(scene_frames["good_c"]).kind == "result"


def test_a_long_gap_between_frames_breaks_the_streak(engine, scene_frames):
    clock = FakeClock()
    loop = GuidanceLoop(engine, GuidanceConfig(consecutive_frames=2, max_frame_gap_s=2.0), clock=clock)
    assert loop.step(scene_frames["good_b"]).streak == 1
    clock.t += 10
    assert loop.step(scene_frames["good_b"]).streak == 1


def test_result_stays_up_then_resets_after_the_timeout(engine, scene_frames):
    clock = FakeClock()
    loop = GuidanceLoop(engine, GuidanceConfig(consecutive_frames=1, result_timeout_s=30), clock=clock)
    first = loop.step(scene_frames["good_b"])
    assert first.kind == "result"
    clock.t += 10
    shown = loop.step(scene_frames["no_face"])  # frames during the result are not measured
    assert shown.kind == "showing_result" and shown.result is first.result and shown.report is None
    clock.t += 25
    assert loop.step(scene_frames["no_face"]).kind == "reset"
    assert loop.phase == "guiding" and loop.last_result is None
    assert loop.step(scene_frames["no_face"]).message_key == "no_face"


def test_operator_retake_and_cancel(engine, scene_frames, replay_dir, tmp_path):
    store = ResultsStore(tmp_path / "data")
    loop = GuidanceLoop(engine, GuidanceConfig(consecutive_frames=1), clock=FakeClock())
    app = KioskApp(ImageFolderSource(replay_dir), loop, [], store=store)  # frames fed by hand below
    ev = loop.step(scene_frames["good_b"])
    app._handle(ev)
    app.operator("consent")
    row = store.get(ev.record["id"])
    assert row["consent"] and (tmp_path / "data" / row["photo_file"]).is_file()
    retake = app.operator("retake")
    assert retake.kind == "retake" and loop.phase == "guiding"
    assert store.get(ev.record["id"])["status"] == "retaken"
    ev2 = loop.step(scene_frames["good_c"])
    app._handle(ev2)
    cancel = app.operator("cancel")
    assert cancel.kind == "cancelled" and cancel.text == message("cancelled")
    assert store.get(ev2.record["id"])["status"] == "cancelled"
    assert store.get(ev2.record["id"])["photo_file"] is None  # no consent, no photo


def test_instructions_in_simplified_chinese(engine, scene_frames):
    loop = GuidanceLoop(engine, GuidanceConfig(language="zh-Hans"), clock=FakeClock())
    ev = loop.step(scene_frames["too_far"])
    assert ev.message_key == "move_closer" and ev.text == "请再靠近一点"


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="no messages for language"):
        GuidanceConfig(language="xx")


def test_headless_log_and_overlay_frames(engine, replay_dir, tmp_path):
    import io
    import json

    stream = io.StringIO()
    loop = GuidanceLoop(engine, GuidanceConfig(), clock=FakeClock())
    app = KioskApp(
        ImageFolderSource(replay_dir),
        loop,
        [JsonLinesOutput(stream), FolderOutput(tmp_path / "shown")],
        Renderer("en", demo=True),
    )
    app.run()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [d["message_key"] for d in lines[: len(FAILING_SCENES)]] == [s.expect for s in FAILING_SCENES]
    assert lines[-1]["event"] == "result" and lines[-1]["result"]["not_for_clinical_use"] is True
    shown = sorted((tmp_path / "shown").iterdir())
    assert len(shown) == len(FAILING_SCENES) + len(GOOD_SCENES)
    from PIL import Image

    last = np.asarray(Image.open(shown[-1]))
    first_frame = np.asarray(Image.open(sorted(replay_dir.iterdir())[-1]).convert("RGB"))
    assert last.shape == first_frame.shape and np.abs(last.astype(int) - first_frame).mean() > 20  # a panel drawn


def test_window_text_in_chinese_needs_a_cjk_font(engine, scene_frames):
    from facescreen.kiosk.display import find_font

    loop = GuidanceLoop(engine, GuidanceConfig(language="zh-Hans"), clock=FakeClock())
    ev = loop.step(scene_frames["too_far"])
    if find_font("zh-Hans") is None:  # never boxes on screen: a clear error at start-up
        with pytest.raises(FileNotFoundError, match="fonts-noto-cjk"):
            Renderer("zh-Hans")
    else:
        renderer = Renderer("zh-Hans")
        out = renderer.render(scene_frames["too_far"], ev)
        assert out.shape == scene_frames["too_far"].shape
        # every character of the instruction has a glyph of its own: a font without CJK draws each as
        # the same "missing glyph" box (tofu), which is what a U+10FFFD (private use) draws
        font = renderer.font(40)
        tofu = np.asarray(font.getmask("\U0010fffd"))
        hanzi = sorted({ch for ch in ev.text if "\u4e00" <= ch <= "\u9fff"})
        assert len(hanzi) >= 2, ev.text
        glyphs = {ch: np.asarray(font.getmask(ch)).tobytes() for ch in hanzi}
        assert all(g != tofu.tobytes() for g in glyphs.values()), ev.text
        assert len(set(glyphs.values())) == len(hanzi)  # distinct characters, distinct glyphs


def test_a_font_file_that_is_not_a_font_is_refused_at_start_up(tmp_path):
    """It was accepted, and the first frame drawn ended the kiosk in PIL's "cannot open resource"."""
    from PIL import Image

    photo = tmp_path / "logo.png"
    Image.new("RGB", (8, 8)).save(photo)
    with pytest.raises(ValueError, match="logo.png is not a font file this kiosk can read"):
        Renderer("en", photo)


def test_the_result_card_says_saved_when_it_returns_and_what_the_map_shows(engine, scene_frames, replay_dir, tmp_path):
    """Issue 25: the kiosk's result card confirms the result was saved (and the photo kept once the
    family consents), says when the screen returns to guidance, gives the activation map a legend,
    and words the consent key as an action."""
    clock = FakeClock()
    loop = GuidanceLoop(engine, GuidanceConfig(consecutive_frames=1, result_timeout_s=30), clock=clock)
    app = KioskApp(ImageFolderSource(replay_dir), loop, [], store=ResultsStore(tmp_path / "data"))
    renderer = Renderer("en")
    asked: list[str] = []
    ask = renderer.t
    renderer.t = lambda key, **f: asked.append(key) or ask(key, **f)

    ev = loop.step(scene_frames["good_b"])
    app._handle(ev)
    assert renderer.card_status(ev) == ("✓ " + message("kiosk_saved"), message("result_returns_in", seconds=30))
    renderer.render(scene_frames["good_b"], ev)
    assert ev.cam_image is not None and {"cam_legend", "operator_keys", "kiosk_saved", "result_returns_in"} <= set(
        asked
    )
    app.operator("consent")
    clock.t += 12.4
    shown = loop.step(scene_frames["no_face"])
    assert renderer.card_status(shown) == (
        f"✓ {message('kiosk_saved')} · {message('consent_recorded')}",
        message("result_returns_in", seconds=18),
    )
    assert "C: keep the photo" in message("operator_keys") and "Keep the photo" in message("consent_button")

    unsaved = GuidanceLoop(engine, GuidanceConfig(consecutive_frames=1), clock=FakeClock()).step(scene_frames["good_b"])
    assert renderer.card_status(unsaved)[0] == message("kiosk_not_saved")  # --no-store


def test_a_full_disk_shows_the_result_unsaved_and_the_kiosk_goes_on(
    engine, scene_frames, replay_dir, tmp_path, caplog, monkeypatch
):
    """The store's StoreFull while a result is stored (SQLite's "database or disk is full", as the store
    words it): the result card says it was not kept, the reason is logged for the operator, and the
    next child is screened and stored once there is space. The StoreFull ended the kiosk, this result
    unseen."""
    import sqlite3

    store = ResultsStore(tmp_path / "data")
    loop = GuidanceLoop(engine, GuidanceConfig(consecutive_frames=1), clock=FakeClock())
    app = KioskApp(ImageFolderSource(replay_dir), loop, [], store=store)

    def full(*a, **kw):
        raise store._full(sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr(store, "add", full)
    ev = loop.step(scene_frames["good_b"])
    caplog.set_level("ERROR", logger="facescreen.kiosk.app")
    app._handle(ev)
    assert ev.kind == "result" and "id" not in ev.record and store.count() == 0
    assert Renderer("en").card_status(ev)[0] == message("kiosk_store_failed")
    assert any("not stored" in r.message and "is full" in r.message for r in caplog.records), caplog.text
    monkeypatch.undo()  # space again
    loop.retake()
    nxt = loop.step(scene_frames["good_b"])
    app._handle(nxt)
    assert nxt.record.get("id") and store.count() == 1

    # the disk fills again: the family's consent cannot be kept (the photo's write fails), nor the
    # retake's status; both were a StoreFull that ended the kiosk
    monkeypatch.setattr(store, "record_consent", full)
    monkeypatch.setattr(store, "set_status", full)
    app.operator("consent")
    saved, _ = Renderer("en").card_status(nxt)
    assert saved == f"✓ {message('kiosk_saved')} · {message('kiosk_photo_not_kept')}" and not nxt.record.get("consent")
    assert app.operator("retake").kind != "result"  # the screen moves on to the next child
    assert store.list()[0]["status"] == "completed"  # not marked retaken: logged
    assert any("could not be marked retaken" in r.message for r in caplog.records), caplog.text
