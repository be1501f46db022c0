"""Timing primitives: warm-up, perf_counter, percentiles that the sample count can support, the
run-to-run variation, and the machine's measured matmul peak."""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

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


def onnxruntime_gemm_peaks(n: int = 1024, repeat: int = 10, threads: int | None = None) -> dict:
    """The GEMM rates ONNX Runtime's CPU provider reaches here, fp32 (MatMul) and int8 (MatMulInteger,
    uint8 x int8 -> int32: the pairing VNNI and AMX execute): the ceilings the int8 and fp32 targets
    are measured against, through the runtime that runs them. Needs the onnx package to write the
    two one-node graphs (the [convert] extra); without it the reason is returned instead."""
    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as exc:
        return {"error": f"not measured: {exc.name} is not installed (pip install onnx onnxruntime)"}
    rng = np.random.default_rng(0)
    # activations in [0, 128): on AVX2 without VNNI, uint8 x int8 pairs sum in int16 (vpmaddubsw) and
    # saturate above that (why quantisers offer reduce_range); the speed is the same, the product exact
    cases = {
        "fp32_gflops": (
            "MatMul",
            TensorProto.FLOAT,
            rng.standard_normal((n, n), dtype=np.float32),
            rng.standard_normal((n, n), dtype=np.float32),
            TensorProto.FLOAT,
        ),
        "int8_gops": (
            "MatMulInteger",
            TensorProto.UINT8,
            rng.integers(0, 128, (n, n), dtype=np.uint8),
            rng.integers(-128, 128, (n, n), dtype=np.int8),
            TensorProto.INT32,
        ),
    }
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    out: dict = {"runtime": f"onnxruntime {ort.__version__}", "n": n}
    for key, (op, a_type, a, b, y_type) in cases.items():
        graph = helper.make_graph(
            [helper.make_node(op, ["a", "b"], ["y"])],
            op,
            [helper.make_tensor_value_info("a", a_type, [n, n])],
            [helper.make_tensor_value_info("y", y_type, [n, n])],
            [numpy_helper.from_array(b, "b")],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = min(model.ir_version, 9)  # what every supported onnxruntime reads
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        y = session.run(None, {"a": a})[0]
        if key == "int8_gops" and not np.array_equal(y[:4], a[:4].astype(np.int32) @ b.astype(np.int32)):
            return {"error": "MatMulInteger returned a wrong product; the int8 peak is not trusted"}
        best = min(_timed(lambda session=session, a=a: session.run(None, {"a": a})) for _ in range(repeat))
        out[key] = 2.0 * n**3 / best / 1e9
    return out


def onnxruntime_op_profile(model: str, threads: int | None = None, runs: int = 20) -> dict:
    """Where an ONNX model's time goes in ONNX Runtime (its own profiler): each operator type's share
    of the node time, and the slowest nodes, over ``runs`` calls at batch 1 (float32 pixels)."""
    import json
    import tempfile
    from collections import defaultdict

    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.enable_profiling = True
        options.profile_file_prefix = f"{tmp}/profile"
        if threads:
            options.intra_op_num_threads = threads
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        spec = session.get_inputs()[0]
        shape = [d if isinstance(d, int) else 1 for d in spec.shape]
        x = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
        name = spec.name
        for _ in range(runs + 2):
            session.run(None, {name: x})
        events = json.loads(Path(session.end_profiling()).read_text())
    by_type: dict[str, float] = defaultdict(float)
    by_node: dict[str, float] = defaultdict(float)
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            op = e.get("args", {}).get("op_name", "?")
            by_type[op] += e["dur"]
            by_node[f"{e['name'][: -len('_kernel_time')]} ({op})"] += e["dur"]
    total = sum(by_type.values()) or 1.0
    return {
        "runs": runs,
        "by_op_type_pct": {k: round(100 * v / total, 1) for k, v in sorted(by_type.items(), key=lambda kv: -kv[1])},
        "slowest_nodes_pct": {
            k: round(100 * v / total, 1) for k, v in sorted(by_node.items(), key=lambda kv: -kv[1])[:8]
        },
    }
