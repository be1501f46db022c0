"""Send queued screenings to a FHIR server, one transaction Bundle per batch.

A batch is marked pushed only when the server answered the whole transaction with success. A batch
the server refuses for what it holds (a 4xx other than the token's 401/403, the 408 and 429 of a busy
server, or a transaction-response with a refused entry) is split in halves and each half sent again,
down to the single screenings the server refuses: those stay queued, each named with the server's
reason, and the others go. Before, one such screening stopped the push at its batch, and since a
push starts from the oldest, it held every later screening back at every push. Anything else (no
answer, a refused token, 5xx, an answer that is not a transaction-response) stops the push, leaves
that batch and every later one queued, and says why in one line a person can act on.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ..store import ServedModelRow
from . import codes
from .bundle import exportable, transaction_bundle
from .outbox import OUTBOX_DB, Outbox
from .resources import FhirOptions, ModelInfo

FHIR_JSON = "application/fhir+json"
DEFAULT_BATCH = 50
DEFAULT_TIMEOUT_S = 30.0


class PushRefused(Exception):
    """The server did not take a batch; ``str()`` says why, for the operator."""


class ContentRefused(PushRefused):
    """The server answered, and refused what the batch holds (not the token, not its own state)."""


# 4xx answers that are not about the batch's content: the token, and a server busy or timing out
NOT_THE_CONTENT = (401, 403, 408, 429)


@dataclass
class PushReport:
    server: str
    pushed: int = 0
    queued: int = 0
    batches: int = 0
    error: str | None = None
    locations: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # result id -> why the server refused it

    @property
    def ok(self) -> bool:
        return self.error is None and not self.refused


def check_base_url(url: str) -> str:
    """``url`` if it can be a FHIR server's base URL (http or https, with a host), else ValueError
    saying what is wrong: a URL typed without its scheme was tried and "could not be reached", and
    one httpx cannot parse ended in its traceback."""
    example = "e.g. https://fhir.example.org/fhir"
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"{url!r} is not a URL ({exc}); {example}") from None
    if parsed.scheme not in ("http", "https"):
        raise ValueError(f"{url!r}: a FHIR server's base URL starts with https:// (or http://), {example}")
    if not parsed.host:
        raise ValueError(f"{url!r} names no server; {example}")
    return url


def json_body(resp: httpx.Response) -> Any:
    """The answer's JSON, or None when it is not JSON (a proxy's HTML error page, an empty body)."""
    try:
        return resp.json()
    except ValueError:
        return None


def outcome_text(body: Any) -> str:
    """The OperationOutcome's issues as one line (what the server said was wrong)."""
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        parts = []
        for issue in body.get("issue", []):
            text = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or issue.get("code", "")
            where = ", ".join(issue.get("expression", []) or [])
            parts.append(f"{text} ({where})" if where else text)
        return "; ".join(p for p in parts if p) or "no details"
    return "no OperationOutcome"


def post_transaction(client: httpx.Client, base_url: str, bundle: dict[str, Any]) -> dict[str, Any]:
    """POST one transaction; the transaction-response, or PushRefused saying why."""
    try:
        resp = client.post(base_url.rstrip("/"), content=json.dumps(bundle), headers={"Content-Type": FHIR_JSON})
    except httpx.TimeoutException:
        raise PushRefused(f"{base_url} did not answer in time") from None
    except httpx.TransportError as exc:
        raise PushRefused(f"could not reach {base_url}: {exc}") from None
    body = json_body(resp)
    if resp.status_code in (401, 403):
        raise PushRefused(
            f"{base_url} refused the token (HTTP {resp.status_code}: {outcome_text(body)}); check --token-file"
        )
    if resp.status_code >= 500 or resp.status_code in NOT_THE_CONTENT:
        side = "the server failed" if resp.status_code >= 500 else "the server is busy"
        raise PushRefused(f"{side} (HTTP {resp.status_code}): {outcome_text(body)}")
    if resp.status_code >= 400:
        raise ContentRefused(f"the server refused the batch (HTTP {resp.status_code}): {outcome_text(body)}")
    if not (isinstance(body, dict) and body.get("type") == "transaction-response"):
        raise PushRefused(f"{base_url} answered HTTP {resp.status_code} without a transaction-response Bundle")
    entries = body.get("entry", [])
    if len(entries) != len(bundle["entry"]):
        raise PushRefused(f"{base_url} answered {len(entries)} entries for the {len(bundle['entry'])} sent")
    bad = [e for e in entries if not str(e.get("response", {}).get("status", "")).startswith("2")]
    if bad:
        raise ContentRefused(f"{base_url} refused {len(bad)} entries: {bad[0].get('response', {}).get('status')}")
    return body


def _locations(sent: dict[str, Any], answer: dict[str, Any]) -> list[tuple[str, str]]:
    """(result id, Observation location) for each Observation in the batch."""
    out = []
    for req, resp in zip(sent["entry"], answer["entry"]):
        res = req["resource"]
        if res["resourceType"] == "Observation":
            rid = next(i["value"] for i in res["identifier"] if i["system"] == codes.RESULT_ID_SYSTEM)
            out.append((rid, resp["response"].get("location", "")))
    return out


def batches(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def push(
    rows: Iterable[dict[str, Any]],
    models: Iterable[ModelInfo],
    data_dir: Path,
    base_url: str,
    token: str | None,
    *,
    batch_size: int = DEFAULT_BATCH,
    opts: FhirOptions = FhirOptions(),
    dry_run: Callable[[dict[str, Any]], None] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    transport: httpx.BaseTransport | None = None,
) -> PushReport:
    """Push every exportable row the outbox has not seen accepted by ``base_url``. With ``dry_run``
    each Bundle is handed to it instead of being sent, and nothing is marked."""
    check_base_url(base_url)
    models = list(models)
    outbox = Outbox(data_dir)
    try:
        done = outbox.pushed_ids(base_url)
        queued = [r for r in exportable(rows) if r["id"] not in done]
        report = PushReport(server=base_url, queued=len(queued))
        bundle_of = functools.partial(transaction_bundle, models=models, data_dir=data_dir, opts=opts)
        # every batch built before anything is sent: a screening no model given can describe is
        # refused before the first request
        todo = [(b, bundle_of(b)) for b in batches(queued, batch_size)]
        if dry_run is not None:
            for _, bundle in todo:
                dry_run(bundle)
            return report
        headers = {"Accept": FHIR_JSON}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        with httpx.Client(headers=headers, timeout=timeout_s, transport=transport) as client:
            while todo:
                batch, bundle = todo.pop(0)
                try:
                    answer = post_transaction(client, base_url, bundle)
                except ContentRefused as exc:
                    if len(batch) > 1:  # which of them: each half again, in order, before the next batch
                        todo[:0] = [(h, bundle_of(h)) for h in (batch[: len(batch) // 2], batch[len(batch) // 2 :])]
                    else:
                        report.refused[batch[0]["id"]] = str(exc)
                    continue
                except PushRefused as exc:
                    report.error = f"{exc}; {report.queued} results stay queued"
                    return report
                locs = _locations(bundle, answer)
                outbox.mark_pushed(base_url, locs)
                report.locations.update(locs)
                report.pushed += len(batch)
                report.queued -= len(batch)
                report.batches += 1
        return report
    finally:
        outbox.close()


def unpushed(data_dir: Path, rows: Iterable[dict[str, Any]]) -> dict[str, set[str]]:
    """For each FHIR server this data folder has pushed to, the ids of ``rows`` still queued for it
    (exportable, not accepted there): what `purge --older-than-days` spares, since a screening it
    deleted before the push never reached the programme's record. Nothing where it never pushed."""
    if not (Path(data_dir) / OUTBOX_DB).is_file():
        return {}
    outbox = Outbox(data_dir)
    try:
        ids = {r["id"] for r in exportable(rows)}
        return {s: queued for s in outbox.servers() if (queued := ids - outbox.pushed_ids(s))}
    finally:
        outbox.close()


def models_from(bundle_dirs: Iterable[str | Path], served: Iterable[ServedModelRow] = ()) -> list[ModelInfo]:
    """The models rows may name: the bundles given, then the ones the store recorded serving (the first
    served of each id and version, its card's hash known), for a version no bundle given holds: after
    a model update in place the previous version's bundle is gone, and its results (the kiosk's own,
    a tablet's synced since) could not be pushed or exported at all."""
    models = [ModelInfo.from_bundle(p) for p in bundle_dirs]
    keys = {m.key for m in models}
    for m in served:
        if m.card_sha256 is not None and (m.model_id, m.model_version) not in keys:
            models.append(ModelInfo.from_served(m))
            keys.add((m.model_id, m.model_version))
    return models
