"""What happened after a screening: outcomes imported from the programme, never overwritten silently.

An outcome is one of ``OUTCOMES`` (the referral's progress, then a final answer). Outcomes are kept
beside the results store (``DATA/outcomes.sqlite3``, 0600), append-only: a result may move forward
(referred -> seen -> confirmed syndrome), but a second *different* final answer is a contradiction and
is refused with the row that gave it; the same answer again is a duplicate and changes nothing.

Two sources, one set of per-row answers:
* CSV: ``result_id,outcome,date`` (ISO 8601 date), one row per event;
* FHIR (a Bundle or one resource, JSON): a DiagnosticReport whose ``basedOn`` is our ServiceRequest
  and whose ``conclusionCode`` is one of our outcome codes, or a Condition (confirmed: syndrome;
  refuted: no syndrome) whose ``evidence.detail`` references our ServiceRequest or Observation.
  A reference is resolved by our identifier (logical reference, or the resource in the same Bundle).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from facescreen.edge.spreadsheet import read_table
from facescreen.edge.textfile import read_text

from .fhir import codes
from .fhir.read import Concept, Entry, Fhir, Reference, Resource, said
from .store import iso_datetime, private_db, private_dir, store_time

OUTCOMES_DB = "outcomes.sqlite3"


@dataclass(frozen=True)
class Outcome:
    name: str
    stage: int  # 0 referred, 1 seen, 2 final
    meaning: str


OUTCOMES = {
    o.name: o
    for o in (
        Outcome("referred", 0, "referral sent, not yet seen"),
        Outcome("seen", 1, "seen by the genetics service, answer pending"),
        Outcome("confirmed_syndrome", 2, "seen: a genetic syndrome confirmed"),
        Outcome("no_syndrome", 2, "seen: no genetic syndrome"),
        Outcome("lost_to_follow_up", 2, "not seen: lost to follow-up"),
    )
}
FINAL = tuple(n for n, o in OUTCOMES.items() if o.stage == 2)
CSV_COLUMNS = ("result_id", "outcome", "date")
# our outcome codes (DiagnosticReport.conclusionCode) -> outcome names
FHIR_OUTCOME_CODES = {
    "outcome-confirmed-syndrome": "confirmed_syndrome",
    "outcome-no-syndrome": "no_syndrome",
    "outcome-lost-to-follow-up": "lost_to_follow_up",
}
# what an outcome resource lacks, in its own terms: (a reference to our result, an outcome, a date); the first
# one missing is the row's problem
FHIR_MISSING = {
    "DiagnosticReport": (
        "basedOn names none of our ServiceRequests",
        "conclusionCode has none of our outcome codes",
        "no effectiveDateTime or issued date",
    ),
    "Condition": (
        "evidence.detail names none of our ServiceRequests or Observations",
        "verificationStatus is neither confirmed nor refuted",
        "no recordedDate or onsetDateTime",
    ),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outcomes (
    result_id   TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    date        TEXT NOT NULL,   -- ISO 8601 date the outcome happened
    source      TEXT NOT NULL,   -- file name and row
    imported_at TEXT NOT NULL,
    PRIMARY KEY (result_id, outcome)
)
"""


@dataclass(frozen=True)
class RowAnswer:
    where: str  # "line 3" or "entry 2"
    result_id: str | None
    status: str  # imported | duplicate | unknown_id | contradiction | invalid
    message: str

    @property
    def ok(self) -> bool:
        return self.status in ("imported", "duplicate")


def latest_of(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """result id -> its most advanced outcome, from (result id, outcome) pairs."""
    out: dict[str, str] = {}
    for rid, outcome in pairs:
        if rid not in out or OUTCOMES[outcome].stage > OUTCOMES[out[rid]].stage:
            out[rid] = outcome
    return out


class OutcomeStore:
    def __init__(self, data_dir: str | Path) -> None:
        data_dir = Path(data_dir)
        private_dir(data_dir)
        self.path = data_dir / OUTCOMES_DB
        self._conn = private_db(self.path)
        self._conn.execute(_SCHEMA)

    def all(self) -> dict[str, dict[str, str]]:
        """result id -> {outcome: date}."""
        out: dict[str, dict[str, str]] = {}
        for rid, outcome, date in self._conn.execute("SELECT result_id, outcome, date FROM outcomes"):
            out.setdefault(rid, {})[outcome] = date
        return out

    def latest(self) -> dict[str, str]:
        """result id -> its most advanced outcome (the final one when there is one)."""
        return latest_of((rid, o) for rid, events in self.all().items() for o in events)

    def add(self, rows: list[tuple[str, str, str, str]]) -> None:
        now = store_time()
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(
                "INSERT INTO outcomes (result_id, outcome, date, source, imported_at) VALUES (?, ?, ?, ?, ?)",
                [(*r, now) for r in rows],
            )

    def close(self) -> None:
        self._conn.close()


@dataclass(frozen=True)
class Event:
    where: str
    result_id: str | None
    outcome: str | None
    date: str | None
    problem: str | None = None  # why the row could not be read


def judge(events: Iterable[Event], known: dict[str, str], stored: dict[str, dict[str, str]], source: str):
    """Per-row answers and the rows to add. ``known``: result id -> screening time (ISO 8601)."""
    answers, to_add = [], []
    seen = {rid: dict(ev) for rid, ev in stored.items()}  # what is stored, plus what this file added so far
    for e in events:
        if e.problem:
            answers.append(RowAnswer(e.where, e.result_id, "invalid", e.problem))
            continue
        if e.result_id is None or e.result_id not in known:
            answers.append(RowAnswer(e.where, e.result_id, "unknown_id", f"no screening {e.result_id!r} in this store"))
            continue
        assert e.outcome is not None and e.date is not None  # readers set a problem when either is missing
        if e.date < known[e.result_id][:10]:
            answers.append(
                RowAnswer(
                    e.where,
                    e.result_id,
                    "contradiction",
                    f"{e.outcome} dated {e.date}, before the screening ({known[e.result_id][:10]})",
                )
            )
            continue
        have = seen.setdefault(e.result_id, {})
        if e.outcome in have:
            same = have[e.outcome] == e.date
            answers.append(
                RowAnswer(
                    e.where,
                    e.result_id,
                    "duplicate",
                    f"{e.outcome} already recorded"
                    + ("" if same else f" (dated {have[e.outcome]}; this row's {e.date} is not kept)"),
                )
            )
            continue
        final = [o for o in have if o in FINAL]
        if e.outcome in FINAL and final:
            answers.append(
                RowAnswer(
                    e.where,
                    e.result_id,
                    "contradiction",
                    f"{e.outcome} contradicts the recorded {final[0]} ({have[final[0]]}); nothing changed",
                )
            )
            continue
        if final and OUTCOMES[e.outcome].stage < 2:
            answers.append(
                RowAnswer(
                    e.where,
                    e.result_id,
                    "contradiction",
                    f"{e.outcome} after the final {final[0]}; nothing changed",
                )
            )
            continue
        have[e.outcome] = e.date
        to_add.append((e.result_id, e.outcome, e.date, f"{source} {e.where}"))
        answers.append(RowAnswer(e.where, e.result_id, "imported", f"{e.outcome} on {e.date}"))
    return answers, to_add


def _date(text: str) -> str | None:
    """The date of an ISO 8601 date or date-time, as written (a date-time's own day where the event
    happened, not converted to UTC); read whole: its first ten characters alone took "2099-01-10junk"
    (a cell run into the next) as a date."""
    try:
        return iso_datetime(text).date().isoformat()
    except ValueError:
        return None


def read_csv(path: Path) -> list[Event]:
    events = []
    for i, row in read_table(path, CSV_COLUMNS).rows:
        rid, outcome, date = row["result_id"], row["outcome"], _date(row["date"])
        problem = None
        if outcome not in OUTCOMES:
            problem = f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)}"
        elif date is None:
            problem = f"date {row['date']!r} is not an ISO 8601 date (YYYY-MM-DD)"
        events.append(Event(f"line {i}", rid or None, outcome, date, problem))
    return events


class _Evidence(Fhir):
    detail: list[Reference] = []


class _DiagnosticReport(Resource):
    based_on: list[Reference] = Field(default=[], alias="basedOn")
    conclusion_code: list[Concept] = Field(default=[], alias="conclusionCode")
    effective_date_time: str | None = Field(default=None, alias="effectiveDateTime")
    issued: str | None = None


class _Condition(Resource):
    evidence: list[_Evidence] = []
    verification_status: Concept | None = Field(default=None, alias="verificationStatus")
    recorded_date: str | None = Field(default=None, alias="recordedDate")
    onset_date_time: str | None = Field(default=None, alias="onsetDateTime")


OUTCOME_RESOURCES: dict[str, type[Resource]] = {"DiagnosticReport": _DiagnosticReport, "Condition": _Condition}


def _our_id(ref: Reference, contained: dict[str, Resource]) -> str | None:
    """The result id a Reference points at: by our identifier, or via the referenced resource in the Bundle."""
    ident = ref.identifier
    if ident is not None and ident.system in (codes.REFERRAL_ID_SYSTEM, codes.RESULT_ID_SYSTEM):
        return ident.value
    target = contained.get(ref.reference or "")
    return target.our_id() if target else None


def read_fhir(path: Path) -> list[Event]:
    """The outcome events of a FHIR JSON file; one that is not a FHIR Bundle or resource (cut short, an
    array, no resourceType), or holds resources but no outcome, is a ValueError naming the file, as a
    CSV's problems are."""
    try:
        doc = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON: {exc}") from None
    try:
        events, kinds = _fhir_events(doc)
    except ValueError as exc:
        raise ValueError(f"{path} {exc}") from None
    if kinds and not set(kinds) & set(OUTCOME_RESOURCES):  # a Bundle of something else (our own export?)
        held = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        raise ValueError(
            f"{path} holds no {' or '.join(OUTCOME_RESOURCES)} (what outcomes come as; docs/fhir.md), only {held}"
        )
    return events


def fhir_events(doc: Any) -> list[Event]:
    """Outcome events from a FHIR Bundle (or one resource): see the module's docstring. One entry
    that cannot be read is that entry's problem; a document that is no Bundle or resource is a
    ValueError."""
    return _fhir_events(doc)[0]


def _fhir_events(doc: Any) -> tuple[list[Event], dict[str, int]]:
    """(events, how many resources of each type the document holds)."""
    if not isinstance(doc, dict):
        raise ValueError(f"is not a FHIR Bundle or resource: a JSON object is expected, not {type(doc).__name__}")
    if not isinstance(doc.get("resourceType"), str):
        raise ValueError("is not a FHIR Bundle or resource: it has no resourceType")
    if doc["resourceType"] == "Bundle":
        raw = doc.get("entry", [])
        if not isinstance(raw, list):
            raise ValueError(f"is a Bundle whose entry is not a list but {type(raw).__name__}")
    else:
        raw = [{"resource": doc}]
    # each entry read once, by its own model: (where, the resource, why it cannot be read, is it an outcome)
    read: list[tuple[str, Resource | None, str | None, bool]] = []
    contained: dict[str, Resource] = {}
    kinds: dict[str, int] = {}
    for n, raw_entry in enumerate(raw, start=1):
        where = f"entry {n}"
        try:
            e = Entry.model_validate(raw_entry)
        except ValidationError as exc:
            read.append((where, None, f"not a Bundle entry: {said(exc)}", True))
            continue
        kind = (e.resource or {}).get("resourceType")
        if isinstance(kind, str):  # counted as written: a malformed outcome is still an outcome
            kinds[kind] = kinds.get(kind, 0) + 1
        outcome = OUTCOME_RESOURCES.get(kind) if isinstance(kind, str) else None
        try:
            r = (outcome or Resource).model_validate(e.resource) if e.resource is not None else None
        except ValidationError as exc:
            # an outcome says why; any other resource is simply no reference's target
            read.append((where, None, f"{kind}.{said(exc)}", outcome is not None))
            continue
        read.append((where, r, None, outcome is not None))
        if r is not None and r.id:
            contained[f"{r.resource_type}/{r.id}"] = r
        if r is not None and e.full_url:
            contained[e.full_url] = r
    events = []
    for where, r, why, is_outcome in read:
        if not is_outcome:
            continue  # the ServiceRequests and Observations the outcomes reference travel along
        events.append(_outcome_event(where, r, contained) if r is not None else Event(where, None, None, None, why))
    return events, kinds


def _outcome_event(where: str, r: Resource, contained: dict[str, Resource]) -> Event:
    if isinstance(r, _DiagnosticReport):
        rid = next((x for x in (_our_id(b, contained) for b in r.based_on) if x), None)
        names = [
            FHIR_OUTCOME_CODES.get(c.code or "")
            for cc in r.conclusion_code
            for c in cc.coding
            if c.system == codes.CODE_SYSTEM_URL
        ]
        outcome = next((x for x in names if x), None)
        date = _date(r.effective_date_time or r.issued or "")
    else:
        assert isinstance(r, _Condition)
        refs = [d for ev in r.evidence for d in ev.detail]
        rid = next((x for x in (_our_id(d, contained) for d in refs) if x), None)
        status = {c.code for c in (r.verification_status.coding if r.verification_status else [])}
        outcome = "confirmed_syndrome" if "confirmed" in status else "no_syndrome" if "refuted" in status else None
        date = _date(r.recorded_date or r.onset_date_time or "")
    problem = next(
        (why for value, why in zip((rid, outcome, date), FHIR_MISSING[r.resource_type]) if value is None), None
    )
    return Event(where, rid, outcome, date, problem)


READERS = {".csv": read_csv, ".json": read_fhir}


def import_outcomes(path: str | Path, data_dir: str | Path, known: dict[str, str]) -> list[RowAnswer]:
    """Import ``path`` (CSV, or FHIR JSON) into the outcomes kept under ``data_dir``; one answer per row.
    Rows that are fine are kept even when others are refused; nothing stored is ever changed."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise ValueError(f"{path}: outcomes come as {' or '.join(READERS)} (CSV, or FHIR JSON)")
    events = reader(path)
    store = OutcomeStore(data_dir)
    try:
        answers, to_add = judge(events, known, store.all(), path.name)
        if to_add:
            store.add(to_add)
    finally:
        store.close()
    return answers
