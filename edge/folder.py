"""Screening many photos with the machine busy: decoding and detection (one worker thread) overlap
with inference (the caller's thread) in a bounded pipeline.

The worker runs at most ``depth`` photos ahead of inference, so at most ``depth`` prepared faces
(aligned crops, not decoded photos: a decoded photo is dropped once its face is aligned) wait
beside the one being inferred, whatever the folder's size. Results come back in the order the photos were given, and
each is computed by the same functions as one photo at a time, so the output is the sequential
run's. One worker, not several: the detector's and the backend's interpreters are each used by one
thread only (neither runtime promises more). The overlap pays where the runtimes leave cores idle
(``--threads 1``, or more cores than ``default_threads()`` takes); where each already runs on every
core (2 cores, the default count) the two modes tie (docs/speed.md, "A folder of photos").
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import FaceScreenError
from .pipeline import PreparedFace
from .result import ScreeningResult

if TYPE_CHECKING:
    from .screener import Screener

DEFAULT_DEPTH = 4  # prepared photos allowed to wait for inference


@dataclass(frozen=True)
class Screened:
    """One photo's outcome: its prepared face and result, or the error that stopped it."""

    path: Path
    prepared: PreparedFace | None = None
    result: ScreeningResult | None = None
    error: FaceScreenError | None = None

    def unwrap(self) -> tuple[PreparedFace, ScreeningResult]:
        """The prepared face and result of a screened photo; its error for one that failed."""
        if self.error is not None:
            raise self.error
        if self.prepared is None or self.result is None:
            raise ValueError(f"{self.path}: neither screened nor failed")
        return self.prepared, self.result


@dataclass
class FolderStats:
    """Where the time went: each stage's busy time, the run's wall time, and the most photos ever
    waiting between the stages (never more than the depth)."""

    photos: int = 0
    wall_s: float = 0.0
    prepare_s: float = 0.0  # decode + detect + align, per photo, summed
    screen_s: float = 0.0  # inference + post-processing, summed
    max_waiting: int = 0
    overlapped: bool = True
    stage_rates: dict[str, float] = field(default_factory=dict)

    def finish(self) -> FolderStats:
        if self.prepare_s > 0:
            self.stage_rates["prepare"] = self.photos / self.prepare_s
        if self.screen_s > 0:
            self.stage_rates["screen"] = self.photos / self.screen_s
        return self

    @property
    def photos_per_s(self) -> float:
        return self.photos / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def of_slowest_stage(self) -> float | None:
        """Throughput over the slowest stage's own rate (1.0: the pipeline hides the other stage)."""
        return self.photos_per_s / min(self.stage_rates.values()) if self.stage_rates else None


def _prepare(screener: Screener, path: Path) -> tuple[PreparedFace | FaceScreenError, float]:
    t0 = time.perf_counter()
    try:
        prepared: PreparedFace | FaceScreenError = screener.prepare(path)
    except FaceScreenError as exc:
        prepared = exc
    return prepared, time.perf_counter() - t0


def _prepared_ahead(
    screener: Screener, paths: Iterable[Path], depth: int, stats: FolderStats
) -> Generator[tuple[Path, PreparedFace | FaceScreenError, float], None, None]:
    """Each photo prepared on one worker thread, at most ``depth`` ahead of the consumer."""
    with ThreadPoolExecutor(1, thread_name_prefix="facescreen-prepare") as pool:
        ahead: deque[tuple[Path, Future]] = deque()
        todo = iter(paths)
        try:
            for path in todo:
                ahead.append((Path(path), pool.submit(_prepare, screener, Path(path))))
                while len(ahead) > depth:  # `depth` stay in the worker's hands while one is screened
                    yield _next_done(ahead, stats)
            while ahead:
                yield _next_done(ahead, stats)
        finally:
            for _, future in ahead:  # the consumer stopped early: nothing more is prepared
                future.cancel()


def _next_done(ahead: deque, stats: FolderStats) -> tuple[Path, PreparedFace | FaceScreenError, float]:
    path, future = ahead.popleft()
    stats.max_waiting = max(stats.max_waiting, sum(f.done() for _, f in ahead))
    prepared, seconds = future.result()
    return path, prepared, seconds


def _prepared_in_turn(
    screener: Screener, paths: Iterable[Path]
) -> Generator[tuple[Path, PreparedFace | FaceScreenError, float], None, None]:
    for path in paths:
        yield (Path(path), *_prepare(screener, Path(path)))


def screen_many(
    screener: Screener,
    paths: Iterable[Path],
    *,
    overlap: bool = True,
    depth: int = DEFAULT_DEPTH,
    stats: FolderStats | None = None,
) -> Iterator[Screened]:
    """Screen ``paths`` in order. ``overlap``: prepare up to ``depth`` photos ahead on a worker
    thread while this thread infers; False: one photo after another (the reference behaviour).
    A photo that fails yields its error and the rest go on."""
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    stats = stats if stats is not None else FolderStats()
    stats.overlapped = overlap
    start = time.perf_counter()
    prepared_photos = _prepared_ahead(screener, paths, depth, stats) if overlap else _prepared_in_turn(screener, paths)
    try:
        for path, prepared, seconds in prepared_photos:
            stats.prepare_s += seconds
            stats.photos += 1
            if isinstance(prepared, FaceScreenError):
                yield Screened(path, error=prepared)
                continue
            t0 = time.perf_counter()
            try:
                result = screener.screen_prepared(prepared)
            except FaceScreenError as exc:
                yield Screened(path, prepared, error=exc)
                continue
            finally:
                stats.screen_s += time.perf_counter() - t0
            yield Screened(path, prepared, result)
    finally:
        prepared_photos.close()
        stats.wall_s = time.perf_counter() - start
        stats.finish()
