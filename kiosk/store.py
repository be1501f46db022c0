"""The local results store: one SQLite row per screening (and per photo refused for its quality), nothing
else unless consent is given.

* SQLite in WAL mode with ``synchronous=FULL``: each screening is committed in its own transaction,
  so a crash (or power cut) loses at most the screening being written, never a committed one.
* No photo is written to disk unless the operator records consent for that screening; then the
  decoded, upright photo is re-encoded (which drops EXIF and GPS metadata) under ``DATA/photos``,
  written and fsynced before its row commits, so a consented answer always has its photo on disk.
  A photo over 12 MP (the reduced JPEG decode's floor) is kept at 12 MP.
  A photo file left without its row by a crash is deleted when the store next opens, once it is
  older than ``ORPHAN_GRACE_S``: another process (a server) may be between writing a photo and
  committing its row while ``export`` or ``purge`` opens the store.
* Health data: the data directory is 0700 and every file in it 0600, whatever the umask.
* The whole ``ScreeningResult.to_dict()`` (class probabilities, faces found) is kept as JSON beside
  the indexed columns, so a 3-class model's reason for a referral is not lost.
* The CSV export neutralises cells a spreadsheet would run as a formula (OWASP: a leading
  ``= + - @``, tab or carriage return gets a ``'`` prefix).
* ``secure_delete`` overwrites purged rows; ``purge`` removes rows and their photos by age or id.
* A photo the single-photo API refuses for its quality is one row in ``quality_refusals`` (who, when,
  which model, which measure failed; never the photo), so the field report can follow the rate of
  quality failures per site and model version.
* Each model the kiosk loads is one row in ``served_models`` (id, version, threshold, marking, its
  card's hash): a tablet's results made with a model this kiosk served before an update are still
  taken at sync, and results of a model whose bundle was replaced since can still be pushed.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import io
import json
import os
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from PIL import Image

from facescreen.edge.errors import CodedError
from facescreen.edge.photo import DEFAULT_LIMITS, kept_dimensions
from facescreen.edge.result import ScreeningResult
from facescreen.edge.spreadsheet import csv_cell

from .childref import check_child_ref

SCHEMA_VERSION = 3  # 2: result_json; 3: child_ref (columns are added from ScreeningRow on open)
ORPHAN_GRACE_S = 3600.0
DIR_MODE, FILE_MODE = 0o700, 0o600
DB_NAME = "results.sqlite3"
PHOTO_DIR = "photos"
STATUSES = ("completed", "retaken", "cancelled")
MAX_KEPT_PIXELS = DEFAULT_LIMITS.reduce_above_pixels
SQLITE_FULL = 13  # sqlite3.h: "Insertion failed because database is full"
FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def column(sql: str, default: Any = MISSING, doc: str = "") -> Any:
    """A dataclass field that is also a table column: its SQL type and constraints, and why."""
    return field(default=default, metadata={"sql": sql, "doc": doc})


@dataclass(frozen=True, kw_only=True)
class ScreeningRow:
    """One screening as the store keeps it: the one home of the row schema. The table's columns,
    its DDL, the CSV header and every insert are derived from these fields, in this order; a new
    column is one line here (a nullable one, or one with a default, is added to an existing store
    when it opens)."""

    id: str = column("TEXT PRIMARY KEY")
    created_at: str = column("TEXT NOT NULL", doc="ISO 8601, UTC")
    kiosk_id: str = column("TEXT NOT NULL")
    operator_id: str | None = column("TEXT", None)
    source: str = column("TEXT NOT NULL", doc="kiosk | api | session | tablet")
    model_id: str = column("TEXT NOT NULL")
    model_version: str = column("TEXT NOT NULL")
    backend: str = column("TEXT NOT NULL")
    probability: float = column("REAL NOT NULL")
    threshold: float = column("REAL NOT NULL")
    flag: int = column("INTEGER NOT NULL", doc="1: refer for genetic evaluation")
    label: str = column("TEXT NOT NULL")
    not_for_clinical_use: int = column("INTEGER NOT NULL")
    intended_use: str = column("TEXT NOT NULL")
    quality_json: str = column("TEXT NOT NULL")
    consent: int = column("INTEGER NOT NULL DEFAULT 0", 0)
    photo_file: str | None = column("TEXT", None, doc="relative to the data dir, only with consent")
    status: str = column("TEXT NOT NULL DEFAULT 'completed'", "completed")
    result_json: str | None = column("TEXT", None, doc="ScreeningResult.to_dict(); NULL in schema-1 and tablet rows")
    child_ref: str | None = column("TEXT", None, doc="the programme's reference for the child (kiosk/childref.py)")

    @classmethod
    def of_result(cls, result: ScreeningResult, quality: dict[str, Any], **row: Any) -> ScreeningRow:
        """A kiosk's own screening: the model's fields from the result, the rest given."""
        return cls(
            model_id=result.model_id,
            model_version=result.model_version,
            backend=result.backend,
            probability=float(result.probability),
            threshold=float(result.threshold),
            flag=int(result.flag),
            label=result.label,
            not_for_clinical_use=int(result.not_for_clinical_use),
            intended_use=result.intended_use,
            quality_json=json.dumps(quality, sort_keys=True),
            result_json=json.dumps(result.to_dict(), sort_keys=True),
            **row,
        )

    def values(self) -> list[Any]:
        return [getattr(self, k) for k in COLUMNS]


COLUMNS = tuple(f.name for f in fields(ScreeningRow))
_INSERT = f"INSERT OR IGNORE INTO screenings ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


@dataclass(frozen=True, kw_only=True)
class QualityRefusalRow:
    """One photo refused for its quality: the one home of the ``quality_refusals`` table. No photo and
    no child reference: the child was not screened; what is kept is what a failure rate needs."""

    id: str = column("TEXT PRIMARY KEY")
    created_at: str = column("TEXT NOT NULL", doc="ISO 8601, UTC")
    kiosk_id: str = column("TEXT NOT NULL")
    operator_id: str | None = column("TEXT", None)
    source: str = column("TEXT NOT NULL", doc="see REFUSING_SOURCES")
    model_id: str = column("TEXT NOT NULL", doc="the model the photo would have gone to")
    model_version: str = column("TEXT NOT NULL")
    instruction: str | None = column("TEXT", None, doc="message key of the failed measure's instruction")
    quality_json: str = column("TEXT NOT NULL", doc="QualityReport.summary(): every measure's value")


# Where a photo is either screened or refused, so that refusals / (refusals + screenings) is a rate:
# the single-photo API (POST /v1/screen). Guided captures (kiosk, session) refuse nothing, they guide
# until a frame passes; a tablet refuses on the tablet and its sync carries results only.
REFUSING_SOURCES = ("api",)
REFUSAL_COLUMNS = tuple(f.name for f in fields(QualityRefusalRow))
_INSERT_REFUSAL = (
    f"INSERT INTO quality_refusals ({', '.join(REFUSAL_COLUMNS)}) VALUES ({', '.join('?' * len(REFUSAL_COLUMNS))})"
)


@dataclass(frozen=True, kw_only=True)
class ServedModelRow:
    """A model this kiosk has served (the one home of the ``served_models`` table): the card fields a
    result made with it carries, and when it was first loaded here. A tablet syncs results days after
    it screened; after a model update the kiosk's current card no longer matches the results the tablet
    made with the previous one, which were refused for ever (and still bound a family's answer). A
    tablet's result is accepted when it was made with a model this kiosk has served, and is kept with
    that model's version and threshold (kiosk/server/routers/sync.py); the card's hash names the
    model's FHIR Device when its bundle is gone (kiosk/fhir/resources.py ModelInfo.from_served)."""

    model_id: str = column("TEXT NOT NULL")
    model_version: str = column("TEXT NOT NULL")
    threshold: float = column("REAL NOT NULL")
    not_for_clinical_use: int = column("INTEGER NOT NULL")
    first_served_at: str = column("TEXT NOT NULL", doc="ISO 8601, UTC")
    intended_use: str = column("TEXT NOT NULL DEFAULT ''", "")
    card_sha256: str | None = column(
        "TEXT", None, doc="modelcard.json as first loaded (a FHIR Device's id); NULL: learnt from screenings"
    )

    @classmethod
    def of_card(cls, info: dict[str, Any]) -> ServedModelRow:
        """From ``KioskEngine.model_info()`` (GET /v1/model's fields)."""
        return cls(
            model_id=info["model_id"],
            model_version=info["version"],
            threshold=float(info["threshold"]),
            not_for_clinical_use=int(info["not_for_clinical_use"]),
            first_served_at=store_time(),
            intended_use=info["intended_use"],
            card_sha256=info["card_sha256"],
        )

    @property
    def key(self) -> tuple[str, str, float, int]:
        return (self.model_id, self.model_version, self.threshold, self.not_for_clinical_use)


SERVED_COLUMNS = tuple(f.name for f in fields(ServedModelRow))
SERVED_KEY = SERVED_COLUMNS[:4]  # what a result made with the model carries (ServedModelRow.key)


def _create_table(cls: type, table: str) -> str:
    """The CREATE TABLE of a row dataclass (each field's doc kept as an SQL comment, for `.schema`)."""
    fs = fields(cls)
    cols = "\n".join(
        f"    {f.name} {f.metadata['sql']}{',' if i < len(fs) - 1 else ''}"
        + (f"  -- {f.metadata['doc']}" if f.metadata["doc"] else "")
        for i, f in enumerate(fs)
    )
    return f"CREATE TABLE IF NOT EXISTS {table} (\n{cols}\n)"


def _ddl() -> list[str]:
    """The screenings table from :class:`ScreeningRow`, then its indexes."""
    return [
        _create_table(ScreeningRow, "screenings"),
        "CREATE INDEX IF NOT EXISTS screenings_created_at ON screenings (created_at)",
        "CREATE INDEX IF NOT EXISTS screenings_child_ref ON screenings (child_ref)",
    ]


def _refusal_ddl() -> list[str]:
    """The quality_refusals table from :class:`QualityRefusalRow` (a table older stores gain on open:
    software that does not know it ignores it, so the schema version stays)."""
    return [
        _create_table(QualityRefusalRow, "quality_refusals"),
        "CREATE INDEX IF NOT EXISTS quality_refusals_created_at ON quality_refusals (created_at)",
    ]


def add_missing_columns(c: sqlite3.Connection, table: str, cls: type) -> None:
    """``table`` gains the columns of its row dataclass ``cls`` it lacks (each nullable or defaulted)."""
    have = {r[1] for r in c.execute(f"PRAGMA table_info({table})")}
    for f in fields(cls):
        if f.name not in have:
            c.execute(f"ALTER TABLE {table} ADD COLUMN {f.name} {f.metadata['sql']}")


def _served_ddl(c: sqlite3.Connection) -> None:
    """The served_models table (older stores gain it on open, like quality_refusals). A store that had
    none learns the models it served from its own screenings (a tablet's rows prove nothing)."""
    had = c.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'served_models'").fetchone()
    c.execute(_create_table(ServedModelRow, "served_models"))
    add_missing_columns(c, "served_models", ServedModelRow)
    c.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS served_models_key ON served_models ({', '.join(SERVED_KEY)})")
    if not had:
        key = ", ".join(SERVED_KEY)
        c.execute(
            f"INSERT OR IGNORE INTO served_models ({key}, first_served_at, intended_use) "
            f"SELECT {key}, MIN(created_at), MIN(intended_use) FROM screenings WHERE source != 'tablet' GROUP BY {key}"
        )


class StoreError(CodedError, code="store_error"):
    """The results store cannot be opened, read or written."""

    # what a caller made before the store refused to keep it (the server's answer to a screened photo),
    # for whoever reports the refusal to pass on: the child was screened all the same
    unsaved: dict[str, Any] | None = None


class NotFound(StoreError, code="not_found"):
    """No screening is stored under the id asked for."""


class StoreFull(StoreError, code="store_full"):
    """The disk (or the database's size limit) is full: nothing was stored, and no partial file stays."""


class DataDirError(StoreError, code="data_dir_unwritable"):
    """The data folder cannot hold the results store (read-only, another user's, a file)."""


class NoStoreError(StoreError, code="no_results_store"):
    """A command that reads the screenings was pointed at a folder without a results store."""


def existing_store(data_dir: str | Path) -> Path:
    """``data_dir`` when it holds a results store. The commands that read or edit stored screenings
    (export, push, outcomes import, field-report, purge) ask for it: opening the store creates one, so
    a mistyped --data-dir, or the default ``kiosk-data`` read from another working folder, made an
    empty store there and answered "exported 0 screenings"."""
    path = Path(data_dir)
    if not (path / DB_NAME).is_file():
        raise NoStoreError(
            f"no results store in {path.absolute()} ({DB_NAME} is missing): nothing was screened with this "
            "data folder; give --data-dir the folder `run` or `serve` kept its results in (or set FACESCREEN_DATA)"
        )
    return path


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


def store_time(when: dt.datetime | None = None) -> str:
    """A time as the store writes it: UTC, ISO 8601 to the millisecond, so that rows order and
    compare as text in SQL (``created_at < ?``). ``when`` must already be in UTC; default: now."""
    return (when or utc_now()).isoformat(timespec="milliseconds")


def iso_datetime(text: str) -> dt.datetime:
    """ISO 8601 date or date-time text, whole, as a datetime (naive when it has no offset), else
    ValueError. Python 3.10's fromisoformat (JetPack 6) takes no "Z"."""
    t = text.strip()
    return dt.datetime.fromisoformat(t[:-1] + "+00:00" if t[-1:] in ("Z", "z") else t)


def since_time(text: str) -> str:
    """A "since" time (``--since``, ``?since=``) as the store writes its times, so that comparing the
    text compares the times: a date is its midnight, a time without an offset is UTC (as the options
    say), one with an offset (or Z) is converted. Anything else is ValueError: compared as text,
    "yesterday" or "2026-13-01" selected nothing and a local offset was ignored, so an export or a
    push silently left out screenings it should have held. A FHIR server's effectiveDateTime is read
    into the store's form by the same rule (``fhir.pull``), so pulled rows sort and compare as stored ones."""
    try:
        when = iso_datetime(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 date or time (e.g. 2026-12-06, 2026-12-06T08:30, 2026-12-06T08:30+05:30)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    try:
        return store_time(when.astimezone(dt.timezone.utc))
    except OverflowError:  # 0001-01-01T00:00+05:00: a year 0 in UTC (was the server's 500)
        raise ValueError(f"{text!r} is outside the calendar in UTC") from None


class ResultsStore:
    def __init__(self, data_dir: str | Path, orphan_grace_s: float = ORPHAN_GRACE_S) -> None:
        self.data_dir = Path(data_dir)
        private_dir(self.data_dir)
        self.path = self.data_dir / DB_NAME
        self.photo_dir = self.data_dir / PHOTO_DIR
        self.orphan_grace_s = orphan_grace_s
        self._lock = threading.Lock()
        self.full_error: str | None = None  # why the last write failed for want of space; None once one succeeds
        self._conn = private_db(self.path, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(
                f"{self.path}: SQLite refused WAL mode (got {mode!r}); is the data dir on a network share?"
            )
        self._conn.execute("PRAGMA secure_delete=ON")
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if not 0 <= version <= SCHEMA_VERSION:
            raise StoreError(f"{self.path} has schema version {version}; this software reads {SCHEMA_VERSION}")
        with self._tx() as c:
            table, *indexes = _ddl()
            c.execute(table)
            self._add_missing_columns(c)  # before the indexes: one may be on a column just added
            for statement in [*indexes, *_refusal_ddl()]:
                c.execute(statement)
            _served_ddl(c)
            c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        for p in self.data_dir.glob(DB_NAME + "*"):
            os.chmod(p, FILE_MODE)
        self.swept = self._sweep_orphan_photos()

    @staticmethod
    def _add_missing_columns(c: sqlite3.Connection) -> None:
        """A store made by an older version gains the columns it lacks (schema 1: result_json)."""
        add_missing_columns(c, "screenings", ScreeningRow)

    # --- transactions ------------------------------------------------------------------------
    def _tx(self):
        store = self

        class _Tx:
            def __enter__(self_inner) -> sqlite3.Connection:
                store._lock.acquire()
                try:
                    store._conn.execute("BEGIN IMMEDIATE")
                except BaseException:
                    store._lock.release()
                    raise
                return store._conn

            def __exit__(self_inner, exc_type, exc, tb) -> None:
                try:
                    if exc_type is None:
                        try:
                            store._conn.execute("COMMIT")
                        except sqlite3.OperationalError as err:
                            if store._conn.in_transaction:  # SQLite keeps a transaction whose COMMIT failed
                                store._conn.execute("ROLLBACK")
                            raise store._full(err) from err
                    elif store._conn.in_transaction:  # SQLite may have rolled it back itself (a full disk)
                        store._conn.execute("ROLLBACK")
                finally:
                    store._lock.release()
                if isinstance(exc, sqlite3.OperationalError) and isinstance(store._full(exc), StoreFull):
                    raise store._full(exc) from exc

        return _Tx()

    def _full(self, err: BaseException) -> BaseException:
        """SQLite's or the file system's "no space left" as a StoreFull (for people, with the folder);
        any other error unchanged."""
        full = getattr(err, "sqlite_errorcode", None) == SQLITE_FULL or "database or disk is full" in str(err)
        full = full or (isinstance(err, OSError) and err.errno in FULL_ERRNOS)
        if not full:
            return err
        self.full_error = f"the disk holding {self.data_dir} is full ({err}); nothing was stored"
        return StoreFull(f"{self.full_error}: free space there, then try again")

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
        row = ScreeningRow.of_result(
            result,
            quality,
            id=uuid.uuid4().hex,
            created_at=store_time(),
            kiosk_id=kiosk_id,
            operator_id=operator_id,
            source=source,
            consent=int(bool(consent and photo is not None)),
            child_ref=child_ref,
        )
        with self.batch() as b:
            b.add(row, photo)
        return StoredScreening(row.id, row.created_at)

    def batch(self) -> Batch:
        """Rows committed together, in one transaction, each with its own photo file:
        ``with store.batch() as b: b.add(row, photo)``. Idempotent by id (an id already stored is
        left as it is: ``b.new`` tells which were new). Any failure commits nothing and leaves no file."""
        return Batch(self)

    def add_refusal(
        self,
        quality: dict[str, Any],
        instruction: str | None,
        *,
        model_id: str,
        model_version: str,
        kiosk_id: str,
        source: str,
        operator_id: str | None = None,
    ) -> StoredScreening:
        """Record one photo refused for its quality (``quality``: the report's summary)."""
        if source not in REFUSING_SOURCES:
            raise ValueError(f"refusals are recorded for sources {REFUSING_SOURCES}, got {source!r}")
        row = QualityRefusalRow(
            id=uuid.uuid4().hex,
            created_at=store_time(),
            kiosk_id=kiosk_id,
            operator_id=operator_id,
            source=source,
            model_id=model_id,
            model_version=model_version,
            instruction=instruction,
            quality_json=json.dumps(quality, sort_keys=True),
        )
        with self._tx() as c:
            c.execute(_INSERT_REFUSAL, [getattr(row, k) for k in REFUSAL_COLUMNS])
        self.full_error = None
        return StoredScreening(row.id, row.created_at)

    def record_consent(self, screening_id: str, photo: np.ndarray) -> str:
        """The operator recorded consent after the result: keep this screening's photo."""
        old = self.get(screening_id)["photo_file"]  # raises NotFound
        photo_file = self._write_photo(screening_id, photo)
        try:
            with self._tx() as c:
                c.execute("UPDATE screenings SET consent = 1, photo_file = ? WHERE id = ?", (photo_file, screening_id))
        except BaseException:
            (self.data_dir / photo_file).unlink(missing_ok=True)
            raise
        if old and old != photo_file:
            (self.data_dir / old).unlink(missing_ok=True)
        return photo_file

    def set_status(self, screening_id: str, status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        with self._tx() as c:
            if c.execute("UPDATE screenings SET status = ? WHERE id = ?", (status, screening_id)).rowcount == 0:
                raise NotFound(f"no screening {screening_id!r}")

    def _write_photo(self, sid: str, photo: np.ndarray) -> str:
        """Atomic and durable: temp file (0600), fsync, rename, fsync the folder. Re-encoding drops
        all metadata. Every write gets its own file name (the screening's id and a random part), so
        two writers of one id never share a file: the row that commits points at its own photo, and
        the other's file is removed by its writer. A failed write (a full disk) leaves no file."""
        private_dir(self.photo_dir)
        rel = f"{PHOTO_DIR}/{sid}-{uuid.uuid4().hex[:12]}.jpg"
        final = self.data_dir / rel
        tmp = final.with_suffix(".jpg.tmp")
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(kept_size(photo), dtype=np.uint8)).save(buf, "JPEG", quality=95)
        try:
            write_durably(tmp, buf.getvalue())
            os.replace(tmp, final)
            dir_fd = os.open(self.photo_dir, os.O_RDONLY)
            try:
                os.fsync(dir_fd)  # the rename itself survives a power cut
            finally:
                os.close(dir_fd)
        except BaseException as exc:
            tmp.unlink(missing_ok=True)
            final.unlink(missing_ok=True)
            full = self._full(exc)
            if full is not exc:
                raise full from exc
            raise
        return rel

    def health(self) -> dict[str, Any]:
        """What /v1/health says about the store: free space, and why the last write failed if the disk was full."""
        try:
            free = shutil.disk_usage(self.data_dir).free
        except OSError:
            free = 0
        return {"writable": self.full_error is None, "free_mb": round(free / 2**20, 1), "error": self.full_error}

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

    def refusals(self, since: str | None = None) -> list[dict[str, Any]]:
        """Every quality refusal, oldest first (at or after ``since``)."""
        where, args = _where(since, None)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT * FROM quality_refusals{where} ORDER BY created_at, rowid", args
            ).fetchall()
        out = []
        for r in rows:
            d = {k: r[k] for k in REFUSAL_COLUMNS}
            d["quality"] = json.loads(d.pop("quality_json"))
            out.append(d)
        return out

    def note_served(self, model: ServedModelRow) -> None:
        """Record that this kiosk serves ``model`` (once: the first time is kept)."""
        cols = ", ".join(SERVED_COLUMNS)
        with self._tx() as c:
            c.execute(
                f"INSERT OR IGNORE INTO served_models ({cols}) VALUES ({', '.join('?' * len(SERVED_COLUMNS))})",
                [getattr(model, k) for k in SERVED_COLUMNS],
            )

    def served_models(self) -> list[ServedModelRow]:
        """Every model this kiosk has served, the first served first."""
        with self._lock:
            rows = self._conn.execute(f"SELECT {', '.join(SERVED_COLUMNS)} FROM served_models ORDER BY first_served_at")
            return [ServedModelRow(**dict(r)) for r in rows]

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

    def known(self, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` are stored."""
        ids = list(ids)
        with self._lock:
            q = f"SELECT id FROM screenings WHERE id IN ({', '.join('?' * len(ids))})"
            return {r[0] for r in self._conn.execute(q, ids)} if ids else set()

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
    def older_than(self, age: dt.timedelta, now: dt.datetime | None = None) -> tuple[dict[str, Any], ...]:
        """The screenings ``purge(age, now=now)`` would delete by age (id and status), oldest first."""
        q = "SELECT id, status FROM screenings WHERE created_at < ? ORDER BY created_at"
        with self._lock:
            return tuple(dict(r) for r in self._conn.execute(q, [store_time((now or utc_now()) - age)]))

    def purge(
        self,
        older_than: dt.timedelta | None = None,
        ids: Iterable[str] = (),
        keep: Iterable[str] = (),
        now: dt.datetime | None = None,
    ) -> int:
        """Delete screenings older than ``older_than`` and/or with the given ids, with their photos
        (quality refusals older than ``older_than`` too); ``keep``: screenings the age spares (not
        yet pushed, ``fhir.push.unpushed``), an id given is deleted all the same; ``now``: the time
        the age counts from (the one ``older_than()`` chose ``keep`` by; default, this moment).
        Returns the screenings deleted."""
        ids = list(ids)
        if older_than is None and not ids:
            raise ValueError("purge needs an age (older_than) or screening ids")
        clauses, args = [], []
        if older_than is not None:  # the ones to keep in a table of the transaction: any number of them
            clauses.append("(created_at < ? AND id NOT IN (SELECT id FROM temp.purge_keep))")
            args.append(store_time((now or utc_now()) - older_than))
        if ids:
            clauses.append(f"id IN ({', '.join('?' * len(ids))})")
            args.extend(ids)
        where = " OR ".join(clauses)
        with self._tx() as c:
            c.execute("CREATE TEMP TABLE IF NOT EXISTS purge_keep (id TEXT PRIMARY KEY)")
            c.execute("DELETE FROM temp.purge_keep")
            c.executemany("INSERT OR IGNORE INTO temp.purge_keep (id) VALUES (?)", [(i,) for i in keep])
            photos = [
                r[0]
                for r in c.execute(
                    f"SELECT photo_file FROM screenings WHERE ({where}) AND photo_file IS NOT NULL", args
                )
            ]
            n = c.execute(f"DELETE FROM screenings WHERE {where}", args).rowcount
            if older_than is not None:  # the same retention for the refusals (args[0]: the cut-off)
                c.execute("DELETE FROM quality_refusals WHERE created_at < ?", args[:1])
        for rel in photos:
            (self.data_dir / rel).unlink(missing_ok=True)
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return n


class Batch:
    """See :meth:`ResultsStore.batch`."""

    def __init__(self, store: ResultsStore) -> None:
        self.store = store
        self.rows: list[ScreeningRow] = []
        self.new: list[str] = []

    def add(self, row: ScreeningRow, photo: np.ndarray | None = None) -> None:
        """Queue ``row``; its photo (only with ``row.consent``) is written now, under a name of its own."""
        if photo is not None and not row.consent:
            raise ValueError("a photo is only written with recorded consent")
        row = replace(row, child_ref=check_child_ref(row.child_ref))
        if photo is not None:
            row = replace(row, photo_file=self.store._write_photo(row.id, photo))
        self.rows.append(row)

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        store, committed = self.store, []
        try:
            if exc_type is None:
                with store._tx() as c:
                    committed = [r for r in self.rows if c.execute(_INSERT, r.values()).rowcount == 1]
                store.full_error = None
        finally:
            self.new = [r.id for r in committed]
            kept = {r.photo_file for r in committed}
            for r in self.rows:  # a photo whose row did not commit (an error, a repeated id) is removed
                if r.photo_file and r.photo_file not in kept:
                    (store.data_dir / r.photo_file).unlink(missing_ok=True)


def kept_size(photo: np.ndarray) -> np.ndarray:
    """A kept photo holds at most ``MAX_KEPT_PIXELS``, the floor of the reduced JPEG decode (a phone's
    12 MP): a bigger one (a PNG, a 49 MP decompression bomb) is shrunk by area averaging first, so its
    re-encoding never needs PIL's 4-byte-per-pixel copy of the full image (~200 MB at 49 MP) on top of
    the decoded pixels the decode budget holds."""
    h, w = photo.shape[:2]
    if h * w <= MAX_KEPT_PIXELS:
        return photo
    import cv2

    return cv2.resize(photo, kept_dimensions(w, h, MAX_KEPT_PIXELS), interpolation=cv2.INTER_AREA)


def write_durably(path: Path, data: bytes) -> None:
    """A new private file (0600 whatever the umask) with ``data``, on the disk when this returns."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), FILE_MODE)
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _where(since: str | None, child_ref: str | None) -> tuple[str, list[str]]:
    """The WHERE clause the list, the count and the export share."""
    clauses, args = [], []
    if since:
        clauses.append("created_at >= ?")
        args.append(since_time(since))
    if child_ref:
        clauses.append("child_ref = ?")
        args.append(child_ref)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


def private_dir(path: Path) -> None:
    """Create ``path`` (and parents) readable by its owner only, and tighten it if it exists."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)


def private_db(path: Path, check_same_thread: bool = True) -> sqlite3.Connection:
    """Open a SQLite database only its owner may read (created 0600, tightened if it exists), in
    autocommit mode with every commit synced to disk: the kiosk's stores of results, outcomes and
    FHIR pushes all open theirs here."""
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, FILE_MODE))
    os.chmod(path, FILE_MODE)  # SQLite gives its -wal and -shm files the database's mode
    conn = sqlite3.connect(path, check_same_thread=check_same_thread, isolation_level=None, timeout=30)
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def _row(r: sqlite3.Row) -> dict[str, Any]:
    d = {k: r[k] for k in COLUMNS}
    d["quality"] = json.loads(d.pop("quality_json"))
    raw = d.pop("result_json")
    d["result"] = json.loads(raw) if raw else None
    d["flag"] = bool(d["flag"])
    d["consent"] = bool(d["consent"])
    d["not_for_clinical_use"] = bool(d["not_for_clinical_use"])
    return d
