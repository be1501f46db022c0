"""Print, write and compare benchmark results (JSON is the source of truth; CSV, PNG follow)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .sections import discover_sections

MODEL_COLUMNS = [
    ("artifact", "target", "{}"),
    ("precision", "prec", "{}"),
    ("size_mb", "MB", "{:.1f}"),
    ("cold_start_ms", "cold ms", "{:.0f}"),
    ("load_ms", "load ms", "{:.0f}"),
    ("n", "n", "{}"),
    ("p50_ms", "p50 ms", "{:.2f}"),
    ("p90_ms", "p90", "{:.2f}"),
    ("p95_ms", "p95", "{:.2f}"),
    ("p99_ms", "p99", "{:.2f}"),
    ("cov_pct", "CoV %", "{:.0f}"),
    ("e2e_p50_ms", "e2e p50", "{:.2f}"),
    ("screener_overhead_pct", "ovh %", "{:+.1f}"),
    ("batch", "best b", "{}"),
    ("images_per_s", "img/s", "{:.1f}"),
    ("peak_mem_mb", "peak MB", "{:.0f}"),
    ("gflops_per_s", "GFLOP/s", "{:.1f}"),
    ("pct_of_matmul_peak", "% peak", "{:.0f}"),
    ("pct_of_int8_peak", "% i8pk", "{:.0f}"),
    ("max_prob_diff", "max dP", "{:.4f}"),
    ("flag_agreement", "agree", "{:.3f}"),
    ("status", "status", "{}"),
]
PARITY_COLUMNS = ("max_prob_diff", "flag_agreement")
WARNING_KEYS = ("variation_warning", "e2e_variation_warning")


def _cell(row: dict, key: str, fmt: str) -> str:
    v = row.get(key)
    return "-" if v is None else fmt.format(v)


def format_table(rows: list[dict], columns=MODEL_COLUMNS) -> str:
    body = [[c[1] for c in columns]] + [[_cell(r, k, f) for k, _, f in columns] for r in rows]
    widths = [max(len(line[i]) for line in body) for i in range(len(columns))]
    lines = [
        "  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths)))
        for line in body
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def format_latency(row: dict, prefix: str = "") -> str:
    """``n 24  p50 3.1 ms  p90 3.4  p95 3.6`` with only the percentiles its n supports."""
    cells = [f"n {row.get(prefix + 'n')}"]
    for q in (50, 90, 95, 99):
        v = row.get(f"{prefix}p{q}_ms")
        if v is not None:
            cells.append(f"p{q} {v:.1f}" + (" ms" if q == 50 else ""))
    return "  ".join(cells)


def parity_of(result: dict) -> dict:
    """The record's parity note; schema-1 records only named the reference."""
    if "parity" in result:
        return result["parity"]
    ref = result.get("reference")
    return {
        "measured": ref is not None,
        "reference": ref,
        "note": f"parity against {ref}" if ref else "parity not measured",
    }


def _machine_lines(result: dict) -> list[str]:
    m, ctx, st = result["machine"], result.get("context", {}), result["settings"]
    libs = ", ".join(f"{k} {v}" for k, v in m.get("libraries", {}).items())
    load = ctx.get("load_average_at_start")
    load_text = "/".join(f"{v:.2f}" for v in load) if load else "unknown"
    return [
        (
            f"facescreen benchmark on {m['cpu']} ({m['cores']} cores, {m.get('memory_gb', '?')} GB, "
            f"{m['machine']}, kernel {m.get('kernel', '?')}), threads={st['threads']}"
        ),
        f"  ISA: {' '.join(m.get('isa', [])) or 'unknown'}; {libs or 'library versions not recorded'}",
        f"  run {ctx.get('timestamp', '?')} at commit {ctx.get('commit') or 'unknown'}; load at start {load_text}",
    ]


def _gemm_line(g: dict | None) -> str:
    if not g:
        return "runtime GEMM peaks: not recorded"
    if "error" in g:
        return f"runtime GEMM peaks: {g['error']}"
    return (
        f"{g['runtime']} GEMM peaks ({g['n']}x{g['n']}): fp32 {g['fp32_gflops']:.0f} GFLOP/s, int8 "
        f"{g['int8_gops']:.0f} GOP/s; '% i8pk' is each int8 target's share of the int8 one"
    )


def format_report(result: dict) -> str:
    b = result["bundle"]
    parity = parity_of(result)
    rule = result.get("single_stream_rule", {})
    mlperf = "" if rule.get("meets_mlperf") else " (fewer than MLPerf's 1024 queries / 600 s: --mlperf)"
    out = _machine_lines(result) + [
        (
            f"model {b['model_id']} ({b['backbone']} @ {b['input_size']} px; trained on {b['training_data']} "
            f"data); fp32 matmul peak {result['matmul_peak_gflops']:.0f} GFLOP/s (int8 targets can exceed it)"
        ),
        (
            f"single stream: batch 1, at least {rule.get('queries_at_least', '?')} queries and "
            f"{rule.get('seconds_at_least', '?')} s per target{mlperf}; p50 etc. compute only (the runtime's "
            "call), e2e from an aligned crop to probability and CAM; img/s offline at the best batch"
        ),
        _gemm_line(result.get("runtime_gemm_peaks")),
        parity["note"],
        "",
    ]
    columns = MODEL_COLUMNS if parity["measured"] else [c for c in MODEL_COLUMNS if c[0] not in PARITY_COLUMNS]
    out.append(format_table(result["models"], columns))
    for r in result["models"]:
        if r.get("status") != "ok":
            out.append(f"  {r['artifact']}: {r.get('error')}")
        for key in WARNING_KEYS:
            if r.get(key):
                out.append(
                    f"  warning {r['artifact']} ({'end to end' if key.startswith('e2e') else 'compute'}): {r[key]}"
                )
        if r.get("op_profile"):
            ops = ", ".join(f"{k} {v:.0f}%" for k, v in list(r["op_profile"]["by_op_type_pct"].items())[:6])
            out.append(f"  {r['artifact']} time by operator (ONNX Runtime profiler): {ops}")
        if r.get("cold_start_error"):
            out.append(f"  {r['artifact']} cold start: {r['cold_start_error']}")
    for name, why in result.get("skipped", {}).items():
        out.append(f"  skipped {name}: {why}")
    det = result.get("detectors")
    if det:
        out += ["", f"detectors on {det['n_frames']} frames of {det['frame_shape'][1]}x{det['frame_shape'][0]}:"]
        for r in det["rows"]:
            out.append(
                f"  {r['detector']:<11} {format_latency(r)}  faces/frame {r['faces_per_frame']:.2f}"
                if r.get("status") == "ok"
                else f"  {r['detector']}: {r.get('error')}"
            )
            if r.get("variation_warning"):
                out.append(f"    warning: {r['variation_warning']}")
        ok = {r["detector"]: r for r in det["rows"] if r.get("status") == "ok"}
        if "mtcnn" in ok and "mtcnn-lite" in ok:
            out.append(f"  speed-up {ok['mtcnn']['p50_ms'] / ok['mtcnn-lite']['p50_ms']:.1f}x")
        if "agreement" in det:
            a = det["agreement"]
            out.append(
                f"  agreement: same face count {a['same_face_count']}/{a['frames']}, min IoU {a['min_iou']:.3f}, "
                f"max landmark distance {a['max_landmark_px']:.2f} px"
            )
    for p in result.get("pipeline") or []:
        if p.get("status") == "ok":
            parts = ", ".join(f"{k} {v:.1f}" for k, v in p["breakdown_p50_ms"].items())
            out.append(
                f"\nphoto in, flag out ({p['frame'][1]}x{p['frame'][0]}, {p['artifact']}, {p['detector']}): "
                f"{format_latency(p)}  [{parts}]"
            )
            if p.get("variation_warning"):
                out.append(f"  warning: {p['variation_warning']}")
            sf = p.get("smallest_face")
            if sf:
                fraction = p["detect_config"].get("min_face_fraction")
                out.append(
                    f"  smallest face {fraction} of the shorter side vs the whole pyramid: detect p50 "
                    f"{sf['photo_config']['p50_ms']:.1f} vs {sf['whole_pyramid']['p50_ms']:.1f} ms; "
                    f"same subject on {sf['both_found']}/{sf['photos']} (min IoU {sf['min_iou']:.3f}, max landmark "
                    f"distance {sf['max_landmark_px']:.2f} px); found only by the whole pyramid "
                    f"{sf['only_whole_pyramid']}, only by the smaller pyramid {sf['only_photo_config']}"
                )
        else:
            out.append(f"\nphoto in, flag out ({p.get('artifact')}): {p.get('error')}")
    sections = result.get("sections") or {}
    known = discover_sections().sections if sections else {}
    for name, data in sections.items():
        out += ["", f"[{name}]"]
        if data.get("status") != "ok" or name not in known:
            out.append(f"  {data.get('error') or 'no section installed to print it'}")
        else:
            out += known[name].format(data)
    return "\n".join(out)


def write_outputs(result: dict, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    js = out_dir / "bench.json"
    js.write_text(json.dumps(result, indent=2))
    cs = out_dir / "bench.csv"
    # one table: the targets' rows, then each section's rows (its own columns appended)
    fields = ["section"] + [c[0] for c in MODEL_COLUMNS] + ["backend", "runtime", "reference", "error"]
    rows = [{"section": "models", **r} for r in result["models"]]
    known = discover_sections().sections if result.get("sections") else {}
    for name, data in (result.get("sections") or {}).items():
        if data.get("status") == "ok" and name in known:
            rows += [{"section": name, **r} for r in known[name].rows(data)]
    for r in rows:
        fields += [k for k in r if k not in fields]
    with open(cs, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    written = [js, cs]
    png = _bar_chart(result, out_dir / "bench.png")
    if png:
        written.append(png)
    return written


def _bar_chart(result: dict, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: matplotlib is not installed; no bar chart written")
        return None
    rows = [r for r in result["models"] if r.get("status") == "ok"]
    det = [r for r in (result.get("detectors") or {}).get("rows", []) if r.get("status") == "ok"]
    pipe = [p for p in result.get("pipeline") or [] if p.get("status") == "ok"]
    known = discover_sections().sections if result.get("sections") else {}
    sections = [
        (known[n], d) for n, d in (result.get("sections") or {}).items() if d.get("status") == "ok" and n in known
    ]
    panels: list[tuple[Callable[[Any, Any], None], Any, float]] = []
    panels += [(_plot_models, rows, 0.45 * len(rows) + 1.4)] if rows else []
    panels += [(_plot_detectors, det, 0.45 * len(det) + 1.4)] if det else []
    panels += [(_plot_pipeline, pipe, 0.45 * len(pipe) + 1.6)] if pipe else []
    panels += [(section.plot, d, 3.2) for section, d in sections]
    if not panels:
        return None
    heights = [h for *_, h in panels]
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(8, sum(heights)), gridspec_kw={"height_ratios": heights}, squeeze=False
    )
    for ax, (draw, data, _) in zip(axes[:, 0], panels):
        draw(ax, data)
    threads = (result.get("settings") or {}).get("threads", "?")
    axes[0, 0].set_title(
        f"{result['bundle']['backbone']} on {result['machine']['cpu'][:48]}, threads={threads}\n"
        + axes[0, 0].get_title(),
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _latency_bars(ax, names: list[str], rows: list[dict], label: str) -> None:
    """p50 bars with a p90 whisker (where n supports one) on a log axis, each labelled with its
    value and n: int8 bars stay visible beside the Keras one."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    p50 = [r["p50_ms"] for r in rows]
    whisker = [(r.get("p90_ms") or r["p50_ms"]) - r["p50_ms"] for r in rows]
    ax.barh(names, p50, xerr=[[0] * len(rows), whisker], color="#4477aa")
    ax.set_xscale("log")
    # ticks at 1, 2, 5 x 10^k in plain ms: matplotlib's own labels a short log axis's minor ticks in
    # powers of ten, which overlap one another
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    for i, r in enumerate(rows):
        ax.text(r["p50_ms"] + whisker[i], i, f"  {r['p50_ms']:.1f} ms (n={r.get('n')})", va="center", fontsize=7)
    ax.set_xlim(min(p50) / 2, max(p + w for p, w in zip(p50, whisker)) * 6)
    ax.invert_yaxis()
    ax.set_xlabel(label)


def _plot_models(ax, rows: list[dict]) -> None:
    _latency_bars(
        ax, [r["artifact"] for r in rows], rows, "ms per aligned face, batch 1, log scale (bar p50, whisker p90)"
    )
    ax.set_title("targets, compute only", fontsize=9)


def _plot_detectors(ax, rows: list[dict]) -> None:
    _latency_bars(ax, [r["detector"] for r in rows], rows, "ms per frame, log scale (bar p50, whisker p90)")
    ax.set_title("face detectors", fontsize=9)


def _plot_pipeline(ax, rows: list[dict]) -> None:
    """Photo in, flag out: each stage's p50 stacked, so the one that dominates shows."""
    names = [f"{p['artifact']} + {p['detector']}" for p in rows]
    stages = list(dict.fromkeys(k for p in rows for k in p["breakdown_p50_ms"]))
    left = [0.0] * len(rows)
    for stage, colour in zip(stages, ["#bbbbbb", "#ee6677", "#ccbb44", "#4477aa", "#66ccee", "#aa3377"]):
        widths = [p["breakdown_p50_ms"].get(stage, 0.0) for p in rows]
        ax.barh(names, widths, left=left, color=colour, label=stage)
        for i, w in enumerate(widths):
            if w > 0.08 * max(p["p50_ms"] for p in rows):
                ax.text(left[i] + w / 2, i, f"{w:.1f}", ha="center", va="center", fontsize=7)
        left = [a + w for a, w in zip(left, widths)]
    for i, p in enumerate(rows):
        ax.text(left[i], i, f"  p50 {p['p50_ms']:.1f} ms (n={p.get('n')})", va="center", fontsize=7)
    ax.set_xlim(0, max(left) * 1.4)
    ax.invert_yaxis()
    ax.legend(fontsize=6, ncol=len(stages), loc="lower right")
    ax.set_xlabel("photo in, flag out: stage p50 (ms)")
    ax.set_title("photo in, flag out", fontsize=9)


def read_record(path: Path) -> dict:
    """A bench.json written by facescreen-bench; anything else is refused with what it lacks."""
    from ..errors import FaceScreenError

    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FaceScreenError(
            f"{path} is not a bench record (bench.json written by facescreen-bench): not JSON"
        ) from None
    models = record.get("models") if isinstance(record, dict) else None
    machine = record.get("machine") if isinstance(record, dict) else None
    if (
        not isinstance(models, list)
        or not all(isinstance(m, dict) and "artifact" in m for m in models)
        or not isinstance(machine, dict)
        or not {"cpu", "node"} <= set(machine)
    ):
        raise FaceScreenError(
            f"{path} is not a bench record (bench.json written by facescreen-bench): "
            "it lacks 'models' rows with 'artifact' and 'machine' with 'cpu' and 'node'"
        )
    return record


# what a reader checks first when two runs differ: the settings, then the machine and its software
_SETTING_KEYS = (
    "threads",
    "warmup",
    "repeat",
    "min_seconds",
    "batch",
    "artifacts",
    "sections",
    "detectors",
    "pipeline",
)
_MACHINE_KEYS = ("cpu", "cores", "usable_cores", "isa", "memory_gb", "kernel", "python", "facescreen", "node")


def differences(a: dict, b: dict) -> list[tuple[str, object, object]]:
    """``(setting, A, B)`` for every setting, machine field, library version and load that differ."""
    pairs = [(f"settings.{k}", a["settings"].get(k), b["settings"].get(k)) for k in _SETTING_KEYS]
    pairs += [(f"machine.{k}", a["machine"].get(k), b["machine"].get(k)) for k in _MACHINE_KEYS]
    libs_a, libs_b = a["machine"].get("libraries", {}), b["machine"].get("libraries", {})
    pairs += [(f"library.{k}", libs_a.get(k), libs_b.get(k)) for k in sorted(set(libs_a) | set(libs_b))]
    pairs += [(f"bundle.{k}", a.get("bundle", {}).get(k), b.get("bundle", {}).get(k)) for k in ("model_id", "backbone")]
    pairs.append(
        (
            "load average at start",
            (a.get("context") or {}).get("load_average_at_start"),
            (b.get("context") or {}).get("load_average_at_start"),
        )
    )
    return [(k, va, vb) for k, va, vb in pairs if va != vb]


def _ratio_lines(title: str, ra: dict, rb: dict, fields: list[tuple[str, str]]) -> list[str]:
    head = f"{title:<18}" + "".join(f"{'A ' + label:>12}{'B ' + label:>12}{'B/A':>7}" for _, label in fields)
    lines = ["", head, "-" * len(head)]
    for name in list(ra) + [n for n in rb if n not in ra]:
        cells = f"{name:<18}"
        for field, _ in fields:
            va, vb = ra.get(name, {}).get(field), rb.get(name, {}).get(field)
            ratio = f"{vb / va:.2f}" if va and vb else "-"
            cells += f"{(f'{va:.2f}' if va else '-'):>12}{(f'{vb:.2f}' if vb else '-'):>12}{ratio:>7}"
        lines.append(cells)
    return lines


def _when(record: dict) -> str:
    return (record.get("context") or {}).get("timestamp", "time not recorded")


def compare(a: dict, b: dict) -> str:
    """Two runs (e.g. Jetson vs tablet vs laptop): first what differs between them besides the
    code's speed (threads, artifacts, sections, machine, libraries, load), then the ratios."""
    lines = [
        f"A: {a['machine']['cpu']} ({a['machine']['node']}), {_when(a)}",
        f"B: {b['machine']['cpu']} ({b['machine']['node']}), {_when(b)}",
        "",
        "settings that differ (read these before the ratios):",
    ]
    diff = differences(a, b)
    lines += [f"  {k}: {va!r} -> {vb!r}" for k, va, vb in diff] or ["  none: same settings, machine and libraries"]
    ra = {r["artifact"]: r for r in a["models"]}
    rb = {r["artifact"]: r for r in b["models"]}
    lines += _ratio_lines("target", ra, rb, [("p50_ms", "p50"), ("e2e_p50_ms", "e2e"), ("images_per_s", "img/s")])
    da = {r["detector"]: r for r in (a.get("detectors") or {}).get("rows", [])}
    db = {r["detector"]: r for r in (b.get("detectors") or {}).get("rows", [])}
    if da or db:
        lines += _ratio_lines("detector", da, db, [("p50_ms", "p50")])
    pa = {p.get("artifact"): p for p in a.get("pipeline") or []}
    pb = {p.get("artifact"): p for p in b.get("pipeline") or []}
    if pa or pb:
        lines += _ratio_lines("photo to flag", pa, pb, [("p50_ms", "p50")])
    return "\n".join(lines)
