"""Read screenings and their outcomes back from a FHIR server: the programme's shared store, where the
results of several kiosks and tablets meet, so the field report can judge them together.

A pushed Observation carries everything the field report reads from a store row (result id, time,
kiosk, probability, threshold, flag) and references the model's Device (id and version); outcomes are
the DiagnosticReports and Conditions that reference our ServiceRequests or Observations, read by the
same rules as ``outcomes import``.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import Field, StrictBool, ValidationError

from ..store import since_time
from . import codes
from .push import DEFAULT_TIMEOUT_S, FHIR_JSON, PushRefused, check_base_url, json_body, outcome_text
from .read import Concept, Fhir, Reference, Resource, SearchPage, said

PAGE = 500
# what a screening's Observation may say of itself and still be counted: FHIR's statuses for a result
# that stands (an edit keeps it), not one withdrawn (entered-in-error, cancelled) or not yet given
COUNTED_STATUSES = ("final", "amended", "corrected")


def search_all(client: httpx.Client, base: str, query: str) -> list[dict[str, Any]]:
    """Every resource a search finds, following the Bundle's ``next`` links."""
    url: str | None = f"{base.rstrip('/')}/{query}"
    out: list[dict[str, Any]] = []
    while url:
        try:
            r = client.get(url)
        except httpx.TransportError as exc:
            raise PushRefused(f"could not reach {base}: {exc}") from None
        if r.status_code >= 400:
            raise PushRefused(f"{base} answered HTTP {r.status_code} to {query}: {outcome_text(json_body(r))}")
        body = json_body(r)
        if not (isinstance(body, dict) and body.get("resourceType") == "Bundle"):
            kind = r.headers.get("content-type", "no content type")
            raise PushRefused(
                f"{base} answered {query} with no FHIR search Bundle ({kind}): is it a FHIR server's base URL?"
            )
        try:
            page = SearchPage.model_validate(body)
        except ValidationError as exc:
            raise PushRefused(f"{base} answered {query} with a Bundle that is not FHIR's: {said(exc)}") from None
        out.extend(e.resource for e in page.entry if e.resource is not None)
        url = next((link.url for link in page.link if link.relation == "next"), None)
    return out


class _Probability(Fhir):
    value: float = Field(ge=0.0, le=1.0)


class _Component(Fhir):
    code: Concept
    value_quantity: _Probability | None = Field(default=None, alias="valueQuantity")
    value_boolean: StrictBool | None = Field(default=None, alias="valueBoolean")


class _Screening(Resource):
    """A screening's Observation, as far as the field report reads it (``resources.observation`` writes it)."""

    status: str
    effective_date_time: str = Field(alias="effectiveDateTime")
    performer: list[Reference] = []
    value_quantity: _Probability = Field(alias="valueQuantity")
    component: list[_Component] = []
    device: Reference

    def part(self, code: str) -> _Component:
        c = next((c for c in self.component if c.code.has(code)), None)
        if c is None:
            raise ValueError(f"it has no {code} component")
        return c


class _Name(Fhir):
    name: str


class _Version(Fhir):
    value: str


class _Model(Resource):
    """The model's Device (``resources.device``): its name and version are the card's."""

    device_name: list[_Name] = Field(alias="deviceName", min_length=1)
    version: list[_Version] = Field(min_length=1)


def _model(raw: dict[str, Any]) -> _Model | str:
    """A Device read, or why it cannot be."""
    try:
        return _Model.model_validate(raw)
    except ValidationError as exc:
        return f"Device.{said(exc)}"


def _row(obs: _Screening, rid: str, models: dict[str, _Model | str]) -> dict[str, Any]:
    """The store-shaped row of one of our Observations, or ValueError saying why it cannot count."""
    if obs.status not in COUNTED_STATUSES:
        raise ValueError(f"its status is {obs.status} (counted: {', '.join(COUNTED_STATUSES)})")
    try:
        created_at = since_time(obs.effective_date_time)  # the store's form, so rows sort and compare as text
    except ValueError as exc:
        raise ValueError(f"effectiveDateTime {exc}") from None
    kiosk = next(
        (p.identifier.value for p in obs.performer if p.identifier and p.identifier.system == codes.KIOSK_ID_SYSTEM),
        None,
    )
    if not kiosk:
        raise ValueError(f"no performer names its kiosk (identifier system {codes.KIOSK_ID_SYSTEM})")
    ref = obs.device.reference or ""
    model = models.get(ref.removeprefix("Device/"), f"its model {ref or '(no reference)'} is not on the server")
    if isinstance(model, str):
        raise ValueError(model)
    threshold, flag = obs.part("decision-threshold").value_quantity, obs.part("referral-flag").value_boolean
    if threshold is None or flag is None:
        raise ValueError("its decision-threshold has no valueQuantity or its referral-flag no valueBoolean")
    return {
        "id": rid,
        "created_at": created_at,
        "kiosk_id": kiosk,
        "model_id": model.device_name[0].name,
        "model_version": model.version[0].value,
        "probability": obs.value_quantity.value,
        "threshold": threshold.value,
        "flag": flag,
        "status": "completed",
    }


def pull(base: str, token: str | None, timeout_s: float = DEFAULT_TIMEOUT_S):
    """(rows shaped like the store's, the outcome Bundle to judge, why each screening that is ours but
    cannot count was left out) from the server at ``base``. Others write to a shared store: a screening
    edited there (an element removed, a status withdrawn, its model's Device gone) is left out with its
    reason, as an outcome that cannot be read is; it was a KeyError traceback, or silently missing."""
    check_base_url(base)
    headers = {"Accept": FHIR_JSON, **({"Authorization": f"Bearer {token}"} if token else {})}
    screen = f"{codes.CODE_SYSTEM_URL}|facial-gestalt-screen"
    with httpx.Client(headers=headers, timeout=timeout_s) as client:
        observations = search_all(client, base, f"Observation?code={screen}&_count={PAGE}")
        devices = search_all(client, base, f"Device?_count={PAGE}")
        referrals = search_all(
            client, base, f"ServiceRequest?code={codes.CODE_SYSTEM_URL}|genetic-evaluation-referral&_count={PAGE}"
        )
        reports = search_all(client, base, f"DiagnosticReport?_count={PAGE}")
        conditions = search_all(client, base, f"Condition?_count={PAGE}")
    models = {str(d.get("id")): _model(d) for d in devices}
    rows: list[dict[str, Any]] = []
    left_out: list[str] = []
    counted: dict[str, str] = {}  # result id -> the Observation counted for it
    for raw in observations:
        try:
            ours = Resource.model_validate(raw)
        except ValidationError:
            continue  # no resource of ours: a search answers only what it found
        rid = ours.ident(codes.RESULT_ID_SYSTEM)
        if rid is None:
            continue  # not one of ours (another system's screening with our code)
        where = f"{ours.url} (result {rid})"
        try:
            if rid in counted:
                raise ValueError(f"result {rid} is already counted from {counted[rid]}")
            rows.append(_row(_Screening.model_validate(raw), rid, models))
            counted[rid] = ours.url
        except ValidationError as exc:
            left_out.append(f"{where}: Observation.{said(exc)}")
        except ValueError as exc:
            left_out.append(f"{where}: {exc}")
    rows.sort(key=lambda r: r["created_at"])
    entries = [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in observations + referrals] + [
        {"resource": r} for r in reports + conditions
    ]
    return rows, {"resourceType": "Bundle", "type": "collection", "entry": entries}, left_out
