"""The results store: one row per screening, photos only with consent, CSV export, purge, and no
committed row lost when the writing process is killed."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from factories import make_result
from PIL import Image

from facescreen.kiosk.store import COLUMNS, ORPHAN_GRACE_S, SCHEMA_VERSION, NotFound, ResultsStore

REPO = Path(__file__).resolve().parents[2]


QUALITY = {"sharpness": {"raw": 120.0, "passed": True, "score": 90}}


def test_wal_mode_and_one_row_per_screening(tmp_path):
    store = ResultsStore(tmp_path)
    a = store.add(make_result(0.7), QUALITY, kiosk_id="k1", source="kiosk", operator_id="op7")
    b = store.add(make_result(0.2), QUALITY, kiosk_id="k1", source="api")
    assert store.count() == 2
    ra = store.get(a.id)
    assert ra["flag"] is True and ra["label"] == "refer for genetic evaluation" and ra["operator_id"] == "op7"
    assert ra["probability"] == pytest.approx(0.7) and ra["threshold"] == 0.5 and ra["model_id"] == "m-test"
    assert ra["model_version"] == "3" and ra["quality"] == QUALITY and ra["not_for_clinical_use"] is True
    assert store.get(b.id)["label"] == "no referral flag"
    assert [r["id"] for r in store.list()] == [b.id, a.id]  # newest first
    con = sqlite3.connect(tmp_path / "results.sqlite3")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(NotFound):
        store.get("nope")


def test_no_photo_is_written_without_consent(tmp_path):
    store = ResultsStore(tmp_path)
    photo = np.full((40, 30, 3), 128, np.uint8)
    with pytest.raises(ValueError, match="consent"):
        store.add(make_result(), QUALITY, kiosk_id="k", source="api", photo=photo)
    store.add(make_result(), QUALITY, kiosk_id="k", source="api")
    files = {p.name for p in tmp_path.rglob("*") if p.is_file()}
    assert files <= {"results.sqlite3", "results.sqlite3-wal", "results.sqlite3-shm"}
    assert store.count() == 1  # the refused call stored nothing


def test_consented_photo_is_kept_under_the_data_dir_without_metadata(tmp_path):
    store = ResultsStore(tmp_path)
    photo = np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8)
    rec = store.add(make_result(), QUALITY, kiosk_id="k", source="api", consent=True, photo=photo)
    row = store.get(rec.id)
    path = tmp_path / row["photo_file"]
    assert row["consent"] is True and path.is_file() and path.parent == tmp_path / "photos"
    img = Image.open(path)
    assert img.size == (30, 40) and not img.getexif()
    # consent after the result (the kiosk's C key)
    later = store.add(make_result(), QUALITY, kiosk_id="k", source="kiosk")
    store.record_consent(later.id, photo)
    assert (tmp_path / store.get(later.id)["photo_file"]).is_file()


def test_orphan_photos_from_a_crash_are_removed_on_open(tmp_path):
    store = ResultsStore(tmp_path)
    kept = store.add(
        make_result(), QUALITY, kiosk_id="k", source="api", consent=True, photo=np.zeros((8, 8, 3), np.uint8)
    )
    store.close()
    orphan = tmp_path / "photos" / "deadbeef.jpg"
    orphan.write_bytes(b"half a photo whose row never committed")
    old = time.time() - 2 * ORPHAN_GRACE_S
    os.utime(orphan, (old, old))
    in_progress = tmp_path / "photos" / "cafe.jpg.tmp"  # another process is writing this one now
    in_progress.write_bytes(b"being written")
    reopened = ResultsStore(tmp_path)
    assert reopened.swept == 1 and not orphan.exists() and in_progress.exists()
    assert (tmp_path / reopened.get(kept.id)["photo_file"]).is_file()


def test_a_concurrent_export_never_removes_a_consented_photo(tmp_path):
    """The server writes consented screenings while `facescreen-kiosk export` opens the store again
    and again (each open sweeps): every committed consented row keeps its photo, and no write fails."""
    import threading

    writer = ResultsStore(tmp_path)
    stop, errors, opened = threading.Event(), [], [0]

    def export_loop():
        while not stop.is_set():
            try:
                ResultsStore(tmp_path).export_csv(io.StringIO())
                opened[0] += 1
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

    t = threading.Thread(target=export_loop)
    t.start()
    try:
        ids = [
            writer.add(
                make_result(),
                QUALITY,
                kiosk_id="k",
                source="api",
                consent=True,
                photo=np.full((64, 48, 3), i, np.uint8),
            ).id
            for i in range(40)
        ]
    finally:
        stop.set()
        t.join()
    assert not errors and opened[0] > 0
    missing = [i for i in ids if not (tmp_path / writer.get(i)["photo_file"]).is_file()]
    assert not missing, f"{len(missing)} of {len(ids)} consented screenings lost their photo"


def test_health_data_is_private_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        store = ResultsStore(tmp_path / "data")
        rec = store.add(
            make_result(), QUALITY, kiosk_id="k", source="api", consent=True, photo=np.zeros((24, 24, 3), np.uint8)
        )
        photo = tmp_path / "data" / store.get(rec.id)["photo_file"]
    finally:
        os.umask(old)
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "data").rglob("*")}
    modes["data"] = (tmp_path / "data").stat().st_mode & 0o777
    assert modes["data"] == 0o700 and modes["photos"] == 0o700 and modes[photo.name] == 0o600, modes
    assert all(m == 0o600 for n, m in modes.items() if n.startswith("results.sqlite3")), modes
    (tmp_path / "data").chmod(0o755)  # an existing, loose folder is tightened when opened
    ResultsStore(tmp_path / "data")
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700


def test_the_whole_result_is_kept_beside_the_columns(tmp_path):
    store = ResultsStore(tmp_path)
    three = make_result(
        0.8,
        class_names=("control", "syndrome_a", "syndrome_b"),
        class_probabilities=(0.2, 0.1, 0.7),
        positive_classes=("syndrome_a", "syndrome_b"),
        model_id="m3",
        n_faces=2,
    )
    row = store.get(store.add(three, QUALITY, kiosk_id="k", source="api").id)
    assert row["result"] == three.to_dict()
    assert row["result"]["class_probabilities"]["syndrome_b"] == 0.7 and row["result"]["n_faces"] == 2


# the column each schema version added: a store written before it has none of it
ADDED_IN = {3: "child_ref", 2: "result_json"}


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_store_is_migrated(tmp_path, version):
    store = ResultsStore(tmp_path)
    rid = store.add(make_result(), QUALITY, kiosk_id="k", source="api").id
    store.close()
    con = sqlite3.connect(tmp_path / "results.sqlite3")
    kept = [c for c in COLUMNS if c not in {col for v, col in ADDED_IN.items() if v > version}]
    con.execute(f"CREATE TABLE old AS SELECT {', '.join(kept)} FROM screenings")  # that version's table
    con.execute("DROP TABLE screenings")
    con.execute("DROP TABLE quality_refusals")  # no version before this one had it
    con.execute("ALTER TABLE old RENAME TO screenings")
    con.execute(f"PRAGMA user_version={version}")
    con.commit()
    con.close()
    reopened = ResultsStore(tmp_path)
    old = reopened.get(rid)
    assert old["child_ref"] is None and old["probability"] == pytest.approx(0.7)
    assert (old["result"] is None) == (version == 1)
    new = reopened.get(reopened.add(make_result(), QUALITY, kiosk_id="k", source="api", child_ref="REG-0042").id)
    assert new["result"] and new["child_ref"] == "REG-0042"
    assert [r["id"] for r in reopened.list(child_ref="REG-0042")] == [new["id"]]
    reopened.add_refusal(QUALITY, "more_light", model_id="m", model_version="1", kiosk_id="k", source="api")
    assert len(reopened.refusals()) == 1  # an older store gains the refusals table when it opens
    assert sqlite3.connect(tmp_path / "results.sqlite3").execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


@pytest.mark.parametrize(
    "ref, stored",
    [
        ("REG-0042", "REG-0042"),
        ("  2024/117.b ", "2024/117.b"),  # spaces around a typed or scanned value are dropped
        ("", None),
        (None, None),
        ("A" * 31 + "1", "A" * 31 + "1"),  # CHILD_REF_MAX_LENGTH
    ],
)
def test_a_child_ref_is_kept_listed_and_exported(tmp_path, ref, stored):
    store = ResultsStore(tmp_path)
    rid = store.add(make_result(), QUALITY, kiosk_id="k", source="api", child_ref=ref).id
    store.add(make_result(), QUALITY, kiosk_id="k", source="api", child_ref="OTHER-1")
    assert store.get(rid)["child_ref"] == stored
    if stored:
        assert [r["id"] for r in store.list(child_ref=stored)] == [rid] and store.count(child_ref=stored) == 1
        buf = io.StringIO()
        assert store.export_csv(buf, child_ref=stored) == 1
        assert next(csv.DictReader(io.StringIO(buf.getvalue())))["child_ref"] == stored


@pytest.mark.parametrize(
    "ref",
    [
        "Ana Silva",  # a name: spaces refused
        "AnaSilva",  # a name: no digit
        "=1+1",  # a formula: must start with a letter or digit
        "-42",
        "A" * 32 + "1",  # one over CHILD_REF_MAX_LENGTH
        "REG\n42",
        "REG;42",
        "ÄÖ-12",  # ASCII only: a scanner's stray byte is not a reference
    ],
)
def test_a_child_ref_that_is_not_a_reference_is_refused(tmp_path, ref):
    store = ResultsStore(tmp_path)
    with pytest.raises(ValueError, match="register number"):
        store.add(make_result(), QUALITY, kiosk_id="k", source="api", child_ref=ref)
    assert store.count() == 0


@pytest.mark.parametrize("value", ['=HYPERLINK("http://x","click")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"])
def test_csv_cells_a_spreadsheet_would_run_are_neutralised(tmp_path, value):
    store = ResultsStore(tmp_path)
    store.add(make_result(), QUALITY, kiosk_id="k", source="api", operator_id=value)
    buf = io.StringIO()
    store.export_csv(buf)
    row = next(csv.DictReader(io.StringIO(buf.getvalue())))
    assert row["operator_id"] == "'" + value and row["probability"] == "0.7"


def test_csv_export(tmp_path):
    store = ResultsStore(tmp_path)
    ids = [store.add(make_result(p), QUALITY, kiosk_id="k", source="api").id for p in (0.1, 0.9)]
    buf = io.StringIO()
    assert store.export_csv(buf) == 2
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert tuple(rows[0]) == COLUMNS and [r["id"] for r in rows] == ids
    assert rows[1]["flag"] == "1" and rows[1]["label"] == "refer for genetic evaluation"


def test_purge_by_id_and_by_age_removes_rows_and_photos(tmp_path):
    store = ResultsStore(tmp_path)
    photo = np.zeros((8, 8, 3), np.uint8)
    a = store.add(make_result(), QUALITY, kiosk_id="k", source="api", consent=True, photo=photo)
    b = store.add(make_result(), QUALITY, kiosk_id="k", source="api")
    c = store.add(make_result(), QUALITY, kiosk_id="k", source="api")
    photo_a = tmp_path / store.get(a.id)["photo_file"]
    assert store.purge(ids=[a.id]) == 1 and not photo_a.exists() and store.ids() == {b.id, c.id}
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=100)).isoformat(timespec="milliseconds")
    with sqlite3.connect(tmp_path / "results.sqlite3") as con:
        con.execute("UPDATE screenings SET created_at = ? WHERE id = ?", (old, b.id))
    assert store.purge(older_than=dt.timedelta(days=90)) == 1 and store.ids() == {c.id}
    with pytest.raises(ValueError):
        store.purge()


def test_a_quality_refusal_is_one_row_without_the_photo_and_ages_out_with_the_screenings(tmp_path):
    store = ResultsStore(tmp_path)
    refusal = dict(model_id="m-test", model_version="3", kiosk_id="k", source="api")
    a = store.add_refusal(QUALITY, "more_light", operator_id="op", **refusal)
    b = store.add_refusal(QUALITY, None, **refusal)
    with pytest.raises(ValueError, match="refusals are recorded for sources"):
        store.add_refusal(QUALITY, "more_light", **{**refusal, "source": "kiosk"})  # guided: it never refuses
    got = store.refusals()
    assert [r["id"] for r in got] == [a.id, b.id] and got[0]["quality"] == QUALITY
    assert (got[0]["instruction"], got[0]["operator_id"], got[1]["instruction"]) == ("more_light", "op", None)
    assert store.count() == 0 and not (tmp_path / "photos").exists()  # not a screening, no photo
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=100)).isoformat(timespec="milliseconds")
    with sqlite3.connect(tmp_path / "results.sqlite3") as con:
        con.execute("UPDATE quality_refusals SET created_at = ? WHERE id = ?", (old, a.id))
    store.purge(older_than=dt.timedelta(days=90))
    assert [r["id"] for r in store.refusals()] == [b.id]
    store.purge(ids=["no-such-screening"])  # a purge by id leaves the refusals
    assert [r["id"] for r in store.refusals()] == [b.id]


WRITER = textwrap.dedent("""
    import sys, numpy as np
    sys.path[:0] = [{repo!r}, {tests!r}]
    from factories import make_result
    from facescreen.kiosk.store import ResultsStore
    QUALITY = {{"sharpness": {{"raw": 120.0, "passed": True, "score": 90}}}}
    store = ResultsStore(sys.argv[1])
    photo = np.full((64, 64, 3), 100, np.uint8)
    i = 0
    while True:
        consent = i % 3 == 0
        rec = store.add(make_result((i % 100) / 100), QUALITY, kiosk_id="crash", source="kiosk",
                        consent=consent, photo=photo if consent else None)
        print(rec.id, flush=True)  # printed only after the commit returned
        i += 1
""")


def test_a_writer_killed_mid_way_loses_no_committed_row(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER.format(repo=str(REPO), tests=str(REPO / "tests")), str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    committed = []
    deadline = time.monotonic() + 60
    try:
        while len(committed) < 40 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            committed.append(line.strip())
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # no cleanup, no atexit: as a power cut to the process
        proc.wait()
    assert len(committed) == 40, proc.stderr.read()[-2000:]
    store = ResultsStore(tmp_path)  # recovery: the WAL is replayed, orphan photos swept
    assert set(committed) <= store.ids()
    con = sqlite3.connect(tmp_path / "results.sqlite3")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for sid in committed:
        row = store.get(sid)
        if row["consent"]:
            assert (tmp_path / row["photo_file"]).is_file()
    photos = {p.name for p in (tmp_path / "photos").iterdir()}
    assert photos == {Path(r["photo_file"]).name for r in store.list(limit=10_000) if r["photo_file"]}


def test_since_compares_times_not_text(tmp_path, monkeypatch):
    """``since`` was compared with the stored times as text: "yesterday" or "2026-13-01" selected
    nothing, and a time with a space, a Z or an offset selected the wrong rows, so an export or a
    push for a day silently left screenings out (or took others in)."""
    from facescreen.kiosk import store as store_module

    utc = dt.timezone.utc
    times = iter([dt.datetime(2026, 12, 5, 23, 30, tzinfo=utc), dt.datetime(2026, 12, 6, 8, 0, tzinfo=utc)])
    monkeypatch.setattr(store_module, "utc_now", lambda: next(times))
    store = ResultsStore(tmp_path)
    late_evening, morning = (store.add(make_result(), QUALITY, kiosk_id="k", source="api").id for _ in range(2))

    def selected(since: str) -> list[str]:
        assert store.count(since) == len(rows := [r["id"] for r in store.list(since=since)][::-1])
        return rows

    assert selected("2026-12-06") == [morning]  # a date: its midnight, UTC
    assert selected("2026-12-06T04:30+05:30") == [late_evening, morning]  # 23:00 UTC the day before
    assert selected("2026-12-06T08:00:00Z") == [morning]
    assert selected("2026-12-06 08:00:01") == []  # a space for the T
    assert selected("2026-12-05T23:30:00.000+00:00") == [late_evening, morning]  # as the store writes it
    for wrong in ("yesterday", "2026-13-01", "06/12/2026"):
        with pytest.raises(ValueError, match=f"'{wrong}' is not an ISO 8601 date or time"):
            store.list(since=wrong)
    for edge in ("0001-01-01T00:00+05:00", "9999-12-31T23:59-05:00"):  # OverflowError: the server's 500
        with pytest.raises(ValueError, match=re.escape(f"'{edge}' is outside the calendar in UTC")):
            store.count(since=edge)
