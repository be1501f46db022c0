"""Cross-target latency benchmark (facescreen-bench). Returns data first, then prints it."""

from .runner import BenchConfig, run_benchmark
from .targets import BenchSettings

__all__ = ["BenchConfig", "BenchSettings", "run_benchmark"]
