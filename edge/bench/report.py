"""Print, write and compare benchmark results (JSON is the source of truth; CSV, PNG follow)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from .sections import discover_sections

MODEL_COLUMNS = [
    ("artifact", "target", "{}"),
    ("precision", "prec", "{}"),
    ("size_mb", "MB", "{:.1f}"),
    ("load_ms", "load ms", "{:.0f}"),
    ("p50_ms", "p50 ms", "{:.1f}"),
    ("p90_ms", "p90", "{:.1f}"),
    ("p99_ms", "p99", "{:.1f}"),
    ("screener_overhead_pct", "ovh %", "{:+.1f}"),
    ("images_per_s", "img/s", "{:.1f}"),
    ("peak_mem_mb", "peak MB", "{:.0f}"),
    ("gflops_per_s", "GFLOP/s", "{:.1f}"),
    ("pct_of_matmul_peak", "% peak", "{:.0f}"),
    ("max_prob_diff", "max dP", "{:.4f}"),
    ("flag_agreement", "agree", "{:.3f}"),
    ("status", "status", "{}"),
]


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


def format_report(result: dict) -> str:
    m, b = result["machine"], result["bundle"]
    out = [
        f"facescreen benchmark on {m['cpu']} ({m['cores']} cores, {m['machine']}), "
        f"threads={result['settings']['threads']}",
        f"model {b['model_id']} ({b['backbone']} @ {b['input_size']} px; trained on {b['training_data']} data); "
        f"fp32 matmul peak {result['matmul_peak_gflops']:.0f} GFLOP/s (int8 targets can exceed it); "
        f"reference {result['reference']}",
        "",
        format_table(result["models"]),
    ]
    for r in result["models"]:
        if r.get("status") != "ok":
            out.append(f"  {r['artifact']}: {r.get('error')}")
    for name, why in result.get("skipped", {}).items():
        out.append(f"  skipped {name}: {why}")
    det = result.get("detectors")
    if det:
        out += ["", f"detectors on {det['n_frames']} frames of {det['frame_shape'][1]}x{det['frame_shape'][0]}:"]
        for r in det["rows"]:
            out.append(
                f"  {r['detector']:<11} p50 {r['p50_ms']:.1f} ms  p90 {r['p90_ms']:.1f} ms  faces/frame "
                f"{r['faces_per_frame']:.2f}"
                if r.get("status") == "ok"
                else f"  {r['detector']}: {r.get('error')}"
            )
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
                f"p50 {p['p50_ms']:.1f} ms, p90 {p['p90_ms']:.1f} ms  [{parts}]"
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
    known = discover_sections().sections if result.get("sections") else {}
    panels = [
        (known[n], d) for n, d in (result.get("sections") or {}).items() if d.get("status") == "ok" and n in known
    ]
    if not rows and not panels:
        return None
    heights = [0.5 * max(1, len(rows)) + 1.5] + [3.2] * len(panels)
    fig, axes = plt.subplots(
        len(heights), 1, figsize=(7, sum(heights)), gridspec_kw={"height_ratios": heights}, squeeze=False
    )
    for panel_ax, (section, data) in zip(axes[1:, 0], panels):
        section.plot(panel_ax, data)
    ax = axes[0, 0]
    if not rows:
        ax.set_axis_off()
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path
    names = [r["artifact"] for r in rows]
    ax.barh(
        names,
        [r["p50_ms"] for r in rows],
        xerr=[[0] * len(rows), [r["p90_ms"] - r["p50_ms"] for r in rows]],
        color="#4477aa",
    )
    ax.invert_yaxis()
    ax.set_xlabel("latency per aligned face, batch 1 (ms; bar p50, whisker p90)")
    ax.set_title(f"{result['bundle']['backbone']} on {result['machine']['cpu'][:40]}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


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


def compare(a: dict, b: dict) -> str:
    """Side by side p50 latency of two runs (e.g. Jetson vs tablet vs laptop)."""
    ra = {r["artifact"]: r for r in a["models"]}
    rb = {r["artifact"]: r for r in b["models"]}
    head = f"{'target':<16}{'A p50 ms':>10}{'B p50 ms':>10}{'B/A':>8}"
    lines = [
        f"A: {a['machine']['cpu']} ({a['machine']['node']})",
        f"B: {b['machine']['cpu']} ({b['machine']['node']})",
        "",
        head,
        "-" * len(head),
    ]
    for name in list(ra) + [n for n in rb if n not in ra]:
        pa, pb = ra.get(name, {}).get("p50_ms"), rb.get(name, {}).get("p50_ms")
        ratio = f"{pb / pa:.2f}" if pa and pb else "-"
        lines.append(f"{name:<16}{(f'{pa:.1f}' if pa else '-'):>10}{(f'{pb:.1f}' if pb else '-'):>10}{ratio:>8}")
    return "\n".join(lines)
