"""Timing primitives: warm-up, perf_counter, percentiles that the sample count can support, the
run-to-run variation, and the machine's measured matmul peak."""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

PERCENTILES = (50, 90, 95, 99)
# MLPerf Inference's single-stream rule (mlcommons/inference mlperf.conf: *.SingleStream.
# target_latency_percentile = 90, min_query_count = 1024, min_duration = 600000 ms). facescreen-bench
# runs fewer by default (--repeat, --min-seconds; --mlperf applies this rule) and says which it met.
MLPERF_SINGLE_STREAM = {"percentile": 90, "min_queries": 1024, "min_seconds": 600.0}
# trtexec warns "GPU compute time is unstable, with coefficient of variance = X%" above 1 % (its
# kUNSTABLE_PERF_REPORTING_THRESHOLD; std over mean, population std, in percent). CPU timings on a shared
# machine are rarely that steady, so the default bar here is 10 % (--max-variation).
TRTEXEC_UNSTABLE_COV_PCT = 1.0
DEFAULT_MAX_VARIATION_PCT = 10.0


def min_samples(q: float) -> int:
    """The fewest samples for which percentile ``q`` is a sample of its own, not the maximum:
    at least one sample lies above it (p90 needs 10, p95 20, p99 100)."""
    return 1 if q <= 50 else math.ceil(100.0 / (100.0 - q))


@dataclass(frozen=True)
class Timing:
    """Latency summary of ``n`` timed calls over ``seconds``; a percentile that ``n`` samples
    cannot support is None (no p99 from 6 frames)."""

    n: int
    seconds: float
    p50_ms: float | None
    p90_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    mean_ms: float
    cov_pct: float  # standard deviation over mean, as trtexec reports it

    @classmethod
    def of(cls, seconds: list[float]) -> Timing:
        ms = np.asarray(seconds, dtype=np.float64) * 1e3
        if ms.size == 0:
            raise ValueError("no timed samples")
        pct = [float(np.percentile(ms, q)) if len(ms) >= min_samples(q) else None for q in PERCENTILES]
        mean = float(ms.mean())
        cov = float(100.0 * ms.std() / mean) if mean > 0 else 0.0
        return cls(len(ms), float(ms.sum() / 1e3), *pct, mean, cov)

    def to_dict(self, prefix: str = "") -> dict:
        return {f"{prefix}{k}": v for k, v in asdict(self).items()}

    def variation_warning(self, max_pct: float) -> str | None:
        if self.cov_pct <= max_pct:
            return None
        return (
            f"unstable: coefficient of variation {self.cov_pct:.1f}% over {self.n} runs exceeds {max_pct:g}% "
            "(a busy or frequency-scaling machine); rerun on an idle machine before trusting the figure"
        )


def time_calls(fn: Callable[[], object], warmup: int, repeat: int, min_seconds: float = 0.0) -> Timing:
    """Run ``fn`` ``warmup`` times untimed, then at least ``repeat`` times and at least
    ``min_seconds`` (MLPerf's single-stream shape: a query count and a duration, both minimums)."""
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < repeat or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return Timing.of(samples)


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def matmul_peak_gflops(n: int = 1024, repeat: int = 10) -> float:
    """The float32 GEMM rate this machine's BLAS reaches: a practical ceiling for fp32 conv nets."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeat))
    return 2.0 * n**3 / best / 1e9


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
