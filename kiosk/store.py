"""The local results store: one SQLite row per screening, nothing else unless consent is given.

* SQLite in WAL mode with ``synchronous=FULL``: each screening is committed in its own transaction,
  so a crash (or power cut) loses at most the screening being written, never a committed one.
* No photo is written to disk unless the operator records consent for that screening; then the
  decoded, upright photo is re-encoded (which drops EXIF and GPS metadata) under ``DATA/photos``,
  written and fsynced before its row commits, so a consented answer always has its photo on disk.
  A photo file left without its row by a crash is deleted when the store next opens, once it is
  older than ``ORPHAN_GRACE_S``: another process (a server) may be between writing a photo and
  committing its row while ``export`` or ``purge`` opens the store.
* Health data: the data directory is 0700 and every file in it 0600, whatever the umask.
* The whole ``ScreeningResult.to_dict()`` (class probabilities, faces found) is kept as JSON beside
  the indexed columns, so a 3-class model's reason for a referral is not lost.
* The CSV export neutralises cells a spreadsheet would run as a formula (OWASP: a leading
  ``= + - @``, tab or carriage return gets a ``'`` prefix).
* ``secure_delete`` overwrites purged rows; ``purge`` removes rows and their photos by age or id.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from PIL import Image

from facescreen.edge.result import ScreeningResult
from facescreen.edge.spreadsheet import csv_cell

from .childref import check_child_ref

SCHEMA_VERSION = 3  # 2: result_json; 3: child_ref
ORPHAN_GRACE_S = 3600.0
DIR_MODE, FILE_MODE = 0o700, 0o600
DB_NAME = "results.sqlite3"
PHOTO_DIR = "photos"
STATUSES = ("completed", "retaken", "cancelled")
COLUMNS = (
    "id",
    "created_at",
    "kiosk_id",
    "operator_id",
    "source",
    "model_id",
    "model_version",
    "backend",
    "probability",
    "threshold",
    "flag",
    "label",
    "not_for_clinical_use",
    "intended_use",
    "quality_json",
    "consent",
    "photo_file",
    "status",
    "result_json",
    "child_ref",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS screenings (
    id                   TEXT PRIMARY KEY,
    created_at           TEXT NOT NULL,      -- ISO 8601, UTC
    kiosk_id             TEXT NOT NULL,
    operator_id          TEXT,
    source               TEXT NOT NULL,      -- kiosk | api | session
    model_id             TEXT NOT NULL,
    model_version        TEXT NOT NULL,
    backend              TEXT NOT NULL,
    probability          REAL NOT NULL,
    threshold            REAL NOT NULL,
    flag                 INTEGER NOT NULL,   -- 1: refer for genetic evaluation
    label                TEXT NOT NULL,
    not_for_clinical_use INTEGER NOT NULL,
    intended_use         TEXT NOT NULL,
    quality_json         TEXT NOT NULL,
    consent              INTEGER NOT NULL DEFAULT 0,
    photo_file           TEXT,               -- relative to the data dir, only with consent
    status               TEXT NOT NULL DEFAULT 'completed',
    result_json          TEXT,               -- ScreeningResult.to_dict(), NULL in rows from schema 1
    child_ref            TEXT                -- the programme's reference for the child (kiosk/childref.py)
);
CREATE INDEX IF NOT EXISTS screenings_created_at ON screenings (created_at);
CREATE INDEX IF NOT EXISTS screenings_child_ref ON screenings (child_ref);
"""


# what a database at schema version N needs to reach N + 1
MIGRATIONS = {
    1: "ALTER TABLE screenings ADD COLUMN result_json TEXT",
    2: "ALTER TABLE screenings ADD COLUMN child_ref TEXT",
}


class StoreError(Exception):
    code = "store_error"


class NotFound(StoreError):
    code = "not_found"


class DataDirError(StoreError):
    code = "data_dir_unwritable"


def check_data_dir(data_dir: str | Path) -> Path:
    """Fail now, in one sentence with the remedy, when the results store could not be written in
    ``data_dir`` (a read-only mount, a folder of another user, a file in its place): the kiosk checks
    this at start-up instead of failing at its first screening (or after `serve` printed its URL).
    A folder that does not exist yet is judged by the nearest one that does, where it would be made."""
    path = Path(data_dir)
    remedy = "give --data-dir a folder this user can write (or set FACESCREEN_DATA)"
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise DataDirError(f"cannot keep the results store in {path}: {probe} is a file, not a folder; {remedy}")
    try:  # a real write: os.access answers for root as if every folder were writable
        fd, name = tempfile.mkstemp(prefix=".facescreen-write-check-", dir=probe)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise DataDirError(f"cannot write the results store in {path}: {exc.strerror} ({probe}); {remedy}") from None
    for p in [path / DB_NAME, *path.glob(DB_NAME + "-*")]:
        if p.exists() and not os.access(p, os.R_OK | os.W_OK):
            raise DataDirError(f"cannot write the results store {p}: permission denied; {remedy}")
    return path


@dataclass(frozen=True)
class StoredScreening:
    id: str
    created_at: str


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class ResultsStore:
    def __init__(self, data_dir: str | Path, orphan_grace_s: float = ORPHAN_GRACE_S) -> None:
        self.data_dir = Path(data_dir)
        private_dir(self.data_dir)
        self.path = self.data_dir / DB_NAME
        self.photo_dir = self.data_dir / PHOTO_DIR
        self.orphan_grace_s = orphan_grace_s
        self._lock = threading.Lock()
        os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, FILE_MODE))
        os.chmod(self.path, FILE_MODE)  # SQLite gives its -wal and -shm files the database's mode
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(
                f"{self.path}: SQLite refused WAL mode (got {mode!r}); is the data dir on a network share?"
            )
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA secure_delete=ON")
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, *MIGRATIONS, SCHEMA_VERSION):
            raise StoreError(f"{self.path} has schema version {version}; this software reads {SCHEMA_VERSION}")
        with self._tx() as c:
            if version:  # an existing database: its table gains the columns added since, in order
                for v in range(version, SCHEMA_VERSION):
                    c.execute(MIGRATIONS[v])
            for statement in _SCHEMA.split(";"):  # not executescript(): it commits on its own
                if statement.strip():
                    c.execute(statement)
            c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        for p in self.data_dir.glob(DB_NAME + "*"):
            os.chmod(p, FILE_MODE)
        self.swept = self._sweep_orphan_photos()

    # --- transactions ------------------------------------------------------------------------
    def _tx(self):
        store = self

        class _Tx:
            def __enter__(self_inner) -> sqlite3.Connection:
                store._lock.acquire()
                store._conn.execute("BEGIN IMMEDIATE")
                return store._conn

            def __exit__(self_inner, exc_type, exc, tb) -> None:
                try:
                    store._conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
                finally:
                    store._lock.release()

        return _Tx()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # --- writing -----------------------------------------------------------------------------
    def add(
        self,
        result: ScreeningResult,
        quality: dict[str, Any],
        *,
        kiosk_id: str,
        source: str,
        operator_id: str | None = None,
        consent: bool = False,
        photo: np.ndarray | None = None,
        child_ref: str | None = None,
    ) -> StoredScreening:
        """Commit one screening (one transaction). ``photo`` is kept only with ``consent``;
        ``child_ref`` must follow kiosk.childref's format."""
        if photo is not None and not consent:
            raise ValueError("a photo is only written with the operator's recorded consent")
        child_ref = check_child_ref(child_ref)
        sid = uuid.uuid4().hex
        created = utc_now().isoformat(timespec="milliseconds")
        photo_file = self._write_photo(sid, photo) if (consent and photo is not None) else None
        row = {
            "id": sid,
            "created_at": created,
            "kiosk_id": kiosk_id,
            "operator_id": operator_id,
            "source": source,
            "model_id": result.model_id,
            "model_version": result.model_version,
            "backend": result.backend,
            "probability": float(result.probability),
            "threshold": float(result.threshold),
            "flag": int(result.flag),
            "label": result.label,
            "not_for_clinical_use": int(result.not_for_clinical_use),
            "intended_use": result.intended_use,
            "quality_json": json.dumps(quality, sort_keys=True),
            "consent": int(bool(consent and photo is not None)),
            "photo_file": photo_file,
            "status": "completed",
            "result_json": json.dumps(result.to_dict(), sort_keys=True),
            "child_ref": child_ref,
        }
        try:
            with self._tx() as c:
                c.execute(
                    f"INSERT INTO screenings ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                    [row[k] for k in COLUMNS],
                )
        except BaseException:
            if photo_file:
                (self.data_dir / photo_file).unlink(missing_ok=True)
            raise
        return StoredScreening(sid, created)

    def add_synced(self, row: dict[str, Any], photo: np.ndarray | None = None) -> bool:
        """Keep a screening made elsewhere (a tablet), under the id it was given there. Idempotent:
        an id already stored is left as it is and False is returned, so a sync that is repeated
        after being cut off never doubles a row. ``photo`` is kept only with ``row["consent"]``."""
        if photo is not None and not row.get("consent"):
            raise ValueError("a photo is only written with the family's recorded consent")
        full = {
            "child_ref": None,
            **row,
            "photo_file": None,
            "status": "completed",
            "consent": int(bool(row.get("consent") and photo is not None)),
        }
        full["child_ref"] = check_child_ref(full["child_ref"])
        missing = [k for k in COLUMNS if k not in full]
        if missing:
            raise ValueError(f"a synced screening lacks {missing}")
        with self._lock:
            if self._conn.execute("SELECT 1 FROM screenings WHERE id = ?", (row["id"],)).fetchone():
                return False
        if photo is not None:
            full["photo_file"] = self._write_photo(row["id"], photo)
        try:
            with self._tx() as c:
                cur = c.execute(
                    f"INSERT OR IGNORE INTO screenings ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                    [full[k] for k in COLUMNS],
                )
        except BaseException:
            if full["photo_file"]:
                (self.data_dir / full["photo_file"]).unlink(missing_ok=True)
            raise
        return cur.rowcount == 1

    def record_consent(self, screening_id: str, photo: np.ndarray) -> str:
        """The operator recorded consent after the result: keep this screening's photo."""
        self.get(screening_id)  # raises NotFound
        photo_file = self._write_photo(screening_id, photo)
        try:
            with self._tx() as c:
                c.execute("UPDATE screenings SET consent = 1, photo_file = ? WHERE id = ?", (photo_file, screening_id))
        except BaseException:
            (self.data_dir / photo_file).unlink(missing_ok=True)
            raise
        return photo_file

    def set_status(self, screening_id: str, status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        with self._tx() as c:
            if c.execute("UPDATE screenings SET status = ? WHERE id = ?", (status, screening_id)).rowcount == 0:
                raise NotFound(f"no screening {screening_id!r}")

    def _write_photo(self, sid: str, photo: np.ndarray) -> str:
        """Atomic and durable: temp file (0600), fsync, rename, fsync the folder. Re-encoding drops
        all metadata."""
        private_dir(self.photo_dir)
        rel = f"{PHOTO_DIR}/{sid}.jpg"
        final = self.data_dir / rel
        tmp = final.with_suffix(".jpg.tmp")
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(photo, dtype=np.uint8)).save(buf, "JPEG", quality=95)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), FILE_MODE)
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        dir_fd = os.open(self.photo_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a power cut
        finally:
            os.close(dir_fd)
        return rel

    def _sweep_orphan_photos(self) -> int:
        """Delete photo files that no committed, consented row points at (a crash between writing
        the photo and committing its row leaves one). A file younger than the grace period is left
        alone: another process may be about to commit its row (the server, while `export` opens
        the store)."""
        if not self.photo_dir.is_dir():
            return 0
        private_dir(self.photo_dir)
        cutoff = time.time() - self.orphan_grace_s
        candidates = []
        for p in self.photo_dir.iterdir():
            try:
                if p.stat().st_mtime < cutoff:
                    candidates.append(p)
            except FileNotFoundError:  # renamed or removed by its writer meanwhile
                continue
        if not candidates:
            return 0
        with self._lock:  # read after listing: a row committed meanwhile is seen
            kept = {
                r[0]
                for r in self._conn.execute(
                    "SELECT photo_file FROM screenings WHERE consent = 1 AND photo_file IS NOT NULL"
                )
            }
        n = 0
        for p in candidates:
            if f"{PHOTO_DIR}/{p.name}" not in kept:
                p.unlink(missing_ok=True)
                n += 1
        return n

    # --- reading -----------------------------------------------------------------------------
    def get(self, screening_id: str) -> dict[str, Any]:
        with self._lock:
            row = self._conn.execute("SELECT * FROM screenings WHERE id = ?", (screening_id,)).fetchone()
        if row is None:
            raise NotFound(f"no screening {screening_id!r}")
        return _row(row)

    def list(
        self, limit: int = 50, offset: int = 0, since: str | None = None, child_ref: str | None = None
    ) -> list[dict[str, Any]]:
        """Newest first; ``child_ref``: only that child's screenings (the reference exactly)."""
        where, args = _where(since, child_ref)
        q = f"SELECT * FROM screenings{where} ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?"
        with self._lock:
            rows = self._conn.execute(q, [*args, int(limit), int(offset)]).fetchall()
        return [_row(r) for r in rows]

    def count(self, since: str | None = None, child_ref: str | None = None) -> int:
        where, args = _where(since, child_ref)
        with self._lock:
            return int(self._conn.execute(f"SELECT COUNT(*) FROM screenings{where}", args).fetchone()[0])

    def ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._conn.execute("SELECT id FROM screenings")}

    def export_csv(self, out: TextIO, since: str | None = None, child_ref: str | None = None) -> int:
        """All screenings (oldest first) as CSV, quality as a JSON column. Returns the row count."""
        where, args = _where(since, child_ref)
        with self._lock:
            rows = self._conn.execute(f"SELECT * FROM screenings{where} ORDER BY created_at, rowid", args).fetchall()
        w = csv.writer(out)
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow([csv_cell(r[k]) for k in COLUMNS])
        return len(rows)

    # --- purging -----------------------------------------------------------------------------
    def purge(self, older_than: dt.timedelta | None = None, ids: Iterable[str] = ()) -> int:
        """Delete screenings older than ``older_than`` and/or with the given ids, with their photos."""
        ids = list(ids)
        if older_than is None and not ids:
            raise ValueError("purge needs an age (older_than) or screening ids")
        clauses, args = [], []
        if older_than is not None:
            clauses.append("created_at < ?")
            args.append((utc_now() - older_than).isoformat(timespec="milliseconds"))
        if ids:
            clauses.append(f"id IN ({', '.join('?' * len(ids))})")
            args.extend(ids)
        where = " OR ".join(clauses)
        with self._tx() as c:
            photos = [
                r[0]
                for r in c.execute(
                    f"SELECT photo_file FROM screenings WHERE ({where}) AND photo_file IS NOT NULL", args
                )
            ]
            n = c.execute(f"DELETE FROM screenings WHERE {where}", args).rowcount
        for rel in photos:
            (self.data_dir / rel).unlink(missing_ok=True)
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return n


def _where(since: str | None, child_ref: str | None) -> tuple[str, list[str]]:
    """The WHERE clause the list, the count and the export share."""
    clauses, args = [], []
    if since:
        clauses.append("created_at >= ?")
        args.append(since)
    if child_ref:
        clauses.append("child_ref = ?")
        args.append(child_ref)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


def private_dir(path: Path) -> None:
    """Create ``path`` (and parents) readable by its owner only, and tighten it if it exists."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)


def _row(r: sqlite3.Row) -> dict[str, Any]:
    d = {k: r[k] for k in COLUMNS}
    d["quality"] = json.loads(d.pop("quality_json"))
    raw = d.pop("result_json")
    d["result"] = json.loads(raw) if raw else None
    d["flag"] = bool(d["flag"])
    d["consent"] = bool(d["consent"])
    d["not_for_clinical_use"] = bool(d["not_for_clinical_use"])
    return d
