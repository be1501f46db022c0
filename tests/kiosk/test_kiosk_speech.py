"""Spoken guidance on the kiosk: the engine is called with each new instruction's text, in the
guidance's language, once per instruction (not every frame while it stays), again after a reset, and
never when muted; off by default. The engine's command line is observed, not a mock of the Speaker."""

from __future__ import annotations

import pytest

from facescreen.kiosk.guidance import GuidanceEvent
from facescreen.kiosk.speech import SPEECH_CHOICES, EspeakNg, Speaker, create_speaker


def _event(kind, key=None, text=""):
    return GuidanceEvent(kind=kind, frame_index=0, time=0.0, message_key=key, text=text)


@pytest.fixture
def spoken():
    calls: list[list[str]] = []
    return calls, EspeakNg(spawn=lambda argv: calls.append(list(argv)))


def test_each_new_instruction_is_said_once(spoken):
    calls, engine = spoken
    speaker = Speaker(engine, "en")
    frames = [
        _event("guidance", "move_closer", "Move a little closer"),
        _event("guidance", "move_closer", "Move a little closer"),  # the same instruction stays: silent
        _event("guidance", "move_closer", "Move a little closer"),
        _event("guidance", "more_light", "More light, please"),
        _event("hold", "hold_still", "Hold still"),
        _event("hold", "hold_still", "Hold still"),
        _event("reset"),
        _event("guidance", "move_closer", "Move a little closer"),  # after a reset it is new again
    ]
    for e in frames:
        speaker.on_event(e)
    assert calls == [
        ["espeak-ng", "-v", "en", "Move a little closer"],
        ["espeak-ng", "-v", "en", "More light, please"],
        ["espeak-ng", "-v", "en", "Hold still"],
        ["espeak-ng", "-v", "en", "Move a little closer"],
    ]


def test_language_picks_the_voice_and_mute_silences(spoken):
    calls, engine = spoken
    speaker = Speaker(engine, "zh-Hans")
    speaker.on_event(_event("guidance", "move_closer", "请靠近一点"))
    speaker.muted = True
    speaker.on_event(_event("guidance", "more_light", "..."))
    assert calls == [["espeak-ng", "-v", "cmn", "请靠近一点"]]


def test_off_by_default_and_engines_from_the_registry():
    from facescreen.kiosk.cli import build_parser

    args = build_parser().parse_args(["run", "--bundle", "b"])
    assert args.speech == "off" and create_speaker("off", "en") is None
    assert SPEECH_CHOICES == ("off", "espeak-ng")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--bundle", "b", "--speech", "festival"])


def test_a_missing_engine_says_how_to_install_it(monkeypatch):
    from facescreen.kiosk.speech import SpeechUnavailable

    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SpeechUnavailable, match="apt-get install -y espeak-ng"):
        EspeakNg()
