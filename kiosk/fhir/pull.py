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

from . import codes
from .push import DEFAULT_TIMEOUT_S, FHIR_JSON, PushRefused, check_base_url, json_body, outcome_text

PAGE = 500


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
        page = json_body(r)
        if not (isinstance(page, dict) and page.get("resourceType") == "Bundle"):
            kind = r.headers.get("content-type", "no content type")
            raise PushRefused(
                f"{base} answered {query} with no FHIR search Bundle ({kind}): is it a FHIR server's base URL?"
            )
        out.extend(e["resource"] for e in page.get("entry", []) if "resource" in e)
        url = next((link["url"] for link in page.get("link", []) if link.get("relation") == "next"), None)
    return out


def _component(obs: dict[str, Any], code: str) -> dict[str, Any]:
    for c in obs.get("component", []):
        if any(cd.get("system") == codes.CODE_SYSTEM_URL and cd.get("code") == code for cd in c["code"]["coding"]):
            return c
    raise ValueError(f"Observation {obs.get('id')} has no {code} component")


def _ident(resource: dict[str, Any], system: str) -> str | None:
    return next((i["value"] for i in resource.get("identifier", []) if i.get("system") == system), None)


def pull(base: str, token: str | None, timeout_s: float = DEFAULT_TIMEOUT_S):
    """(rows shaped like the store's, the outcome Bundle to judge) from the server at ``base``."""
    check_base_url(base)
    headers = {"Accept": FHIR_JSON, **({"Authorization": f"Bearer {token}"} if token else {})}
    screen = f"{codes.CODE_SYSTEM_URL}|facial-gestalt-screen"
    with httpx.Client(headers=headers, timeout=timeout_s) as client:
        observations = search_all(client, base, f"Observation?code={screen}&_count={PAGE}")
        devices = {d["id"]: d for d in search_all(client, base, f"Device?_count={PAGE}")}
        referrals = search_all(
            client, base, f"ServiceRequest?code={codes.CODE_SYSTEM_URL}|genetic-evaluation-referral&_count={PAGE}"
        )
        reports = search_all(client, base, f"DiagnosticReport?_count={PAGE}")
        conditions = search_all(client, base, f"Condition?_count={PAGE}")
    rows = []
    for obs in observations:
        rid = _ident(obs, codes.RESULT_ID_SYSTEM)
        dev = devices.get(obs.get("device", {}).get("reference", "").removeprefix("Device/"))
        if rid is None or dev is None:
            continue  # not one of ours, or its model is not on the server
        rows.append(
            {
                "id": rid,
                "created_at": obs["effectiveDateTime"],
                "kiosk_id": obs["performer"][0]["identifier"]["value"],
                "model_id": dev["deviceName"][0]["name"],
                "model_version": dev["version"][0]["value"],
                "probability": float(obs["valueQuantity"]["value"]),
                "threshold": float(_component(obs, "decision-threshold")["valueQuantity"]["value"]),
                "flag": bool(_component(obs, "referral-flag")["valueBoolean"]),
                "status": "completed",
            }
        )
    rows.sort(key=lambda r: r["created_at"])
    entries = [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in observations + referrals] + [
        {"resource": r} for r in reports + conditions
    ]
    return rows, {"resourceType": "Bundle", "type": "collection", "entry": entries}
