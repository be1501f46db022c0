"""Spoken guidance: each new instruction said aloud, for a child and a parent who cannot read the
screen. Off by default; ``facescreen-kiosk run --speech espeak-ng`` chooses an engine from the
registry. espeak-ng is offline and runs on a Jetson and on Debian alike (``apt-get install -y
espeak-ng``); nothing is downloaded or sent anywhere."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from facescreen.edge.registry import Registry

if TYPE_CHECKING:  # the CLI reads the engine names at parse time: no guidance (quality, models) then
    from .guidance import GuidanceEvent


class SpeechEngine(Protocol):
    name: str

    def say(self, text: str, language: str) -> None: ...


class SpeechUnavailable(RuntimeError):
    pass


# espeak-ng's voice for a message-table language where the two names differ
ESPEAK_VOICES = {"zh-Hans": "cmn", "zh": "cmn"}


class EspeakNg:
    """espeak-ng in a child process, not waited for (the camera loop goes on while it speaks); a new
    instruction cuts the one still being spoken."""

    name = "espeak-ng"

    def __init__(self, command: str = "espeak-ng", spawn: Callable[[Sequence[str]], object] | None = None) -> None:
        self.command = command
        self._spawn = spawn or (
            lambda argv: subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
        self._speaking: Any = None  # the child process (a Popen, or what a test's spawn returns)
        if spawn is None and shutil.which(command) is None:
            raise SpeechUnavailable(
                f"{command} is not installed: apt-get install -y espeak-ng (Debian and JetPack), "
                "or run without --speech"
            )

    def say(self, text: str, language: str) -> None:
        if self._speaking is not None and getattr(self._speaking, "poll", lambda: 0)() is None:
            self._speaking.terminate()
        self._speaking = self._spawn([self.command, "-v", ESPEAK_VOICES.get(language, language), text])


SPEECH_ENGINES: Registry[SpeechEngine] = Registry("speech engine")
SPEECH_ENGINES.register("espeak-ng", EspeakNg)
SPEECH_CHOICES = ("off", *SPEECH_ENGINES.names())

# events whose text is an instruction or a result worth saying; a reset or cancel forgets the last one
SPOKEN = ("guidance", "hold", "result")
FORGET = ("reset", "retake", "cancelled")


class Speaker:
    """Says each new instruction once, in the guidance's language: not again while the same one stays
    on screen frame after frame, and again once another was said in between or the screen reset.
    ``muted`` silences it (the operator's control)."""

    def __init__(self, engine: SpeechEngine, language: str) -> None:
        self.engine = engine
        self.language = language
        self.muted = False
        self._last: str | None = None

    def on_event(self, event: GuidanceEvent) -> None:
        if event.kind in FORGET:
            self._last = None
            return
        if event.kind not in SPOKEN or not event.text or event.message_key == self._last:
            return
        self._last = event.message_key
        if not self.muted:
            self.engine.say(event.text, self.language)


def create_speaker(choice: str, language: str) -> Speaker | None:
    """``off`` (the default): None; else the registered engine's Speaker."""
    if choice == "off":
        return None
    return Speaker(SPEECH_ENGINES.create(choice), language)
