"""export --fhir and push against a REAL FHIR R4 server (Medplum's FHIR router, which checks every
resource against the R4 StructureDefinitions; see conftest.py): a day's push succeeds and reads back
equal, a retry creates nothing new, and a server that is down, refuses the token, fails (5xx) or
refuses a resource leaves every result queued with the reason said."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from pathlib import Path

import httpx
import pytest

from facescreen.kiosk.cli import main
from facescreen.kiosk.fhir import codes
from facescreen.kiosk.fhir.outbox import Outbox
from facescreen.kiosk.tools.ports import free_port

SERVER_META = ("versionId", "lastUpdated", "author", "project", "compartment")


def _token_file(tmp_path: Path, token: str) -> Path:
    f = tmp_path / "token"
    f.write_text(token)
    f.chmod(0o600)
    return f


def _export(day, model_bundle, tmp_path, *extra) -> dict:
    out = tmp_path / "day.json"
    rc = main(
        ["export", "--fhir", "--data-dir", str(day.data_dir), "--bundle", str(model_bundle), "--out", str(out), *extra]
    )
    assert rc == 0
    return json.loads(out.read_text())


def _push(day, model_bundle, url, token_file, *extra) -> int:
    return main(
        ["push", "--data-dir", str(day.data_dir), "--bundle", str(model_bundle), "--fhir-url", url]
        + (["--token-file", str(token_file)] if token_file else [])
        + list(extra)
    )


def _search(client: httpx.Client, base: str, query: str) -> list[dict]:
    r = client.get(f"{base}/{query}")
    assert r.status_code == 200, r.text
    return [e["resource"] for e in r.json().get("entry", [])]


def _find(client, base, resource) -> list[dict]:
    """The server's copies of one resource we sent, found the way a retry finds them."""
    rt = resource["resourceType"]
    if rt == "CodeSystem":
        return _search(client, base, f"CodeSystem?url={resource['url']}")
    if rt == "Provenance":
        r = client.get(f"{base}/Provenance/{resource['id']}")
        return [r.json()] if r.status_code == 200 else []
    ident = resource["identifier"][0]
    return _search(client, base, f"{rt}?identifier={ident['system']}|{ident['value']}")


def _strip_server_fields(res: dict) -> dict:
    res = json.loads(json.dumps(res))
    if res["resourceType"] != "Provenance":
        res.pop("id", None)
    meta = res.get("meta", {})
    for k in SERVER_META:
        meta.pop(k, None)
    if not meta:
        res.pop("meta", None)
    return res


def _resolve(obj, refs: dict[str, str]):
    if isinstance(obj, dict):
        return {k: (refs.get(v, v) if k == "reference" else _resolve(v, refs)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_resolve(v, refs) for v in obj]
    return obj


def test_a_days_push_validates_reads_back_equal_and_a_retry_adds_nothing(day, model_bundle, fhir_server, tmp_path):
    base, token = fhir_server
    sent = _export(day, model_bundle, tmp_path)
    assert _push(day, model_bundle, base, _token_file(tmp_path, token)) == 0
    assert Outbox(day.data_dir).pushed_ids(base) == set(day.ids)  # the retaken one is never sent

    with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as client:
        found = {e["fullUrl"]: _find(client, base, e["resource"]) for e in sent["entry"]}
        assert all(len(v) == 1 for v in found.values()), {k: len(v) for k, v in found.items()}
        refs = {url: f"{v[0]['resourceType']}/{v[0]['id']}" for url, v in found.items()}
        for entry in sent["entry"]:
            assert _strip_server_fields(found[entry["fullUrl"]][0]) == _resolve(entry["resource"], refs)

        # the answer was lost: the same results go again (outbox forgotten), nothing is doubled
        (day.data_dir / "fhir-outbox.sqlite3").unlink()
        assert _push(day, model_bundle, base, _token_file(tmp_path, token)) == 0
        again = {e["fullUrl"]: _find(client, base, e["resource"]) for e in sent["entry"]}
        assert {k: [r["id"] for r in v] for k, v in again.items()} == {
            k: [r["id"] for r in v] for k, v in found.items()
        }
        referrals = _search(client, base, f"ServiceRequest?identifier={codes.REFERRAL_ID_SYSTEM}|{day.flagged[1]}")
        assert len(referrals) == 1 and referrals[0]["intent"] == "proposal"
        # the stored child reference is the subject's identifier on the server
        child = {"system": codes.DEFAULT_CHILD_ID_SYSTEM, "value": "REG-0042"}
        assert referrals[0]["subject"]["identifier"] == child
        assert len(_search(client, base, f"Media?identifier={codes.PHOTO_ID_SYSTEM}|{day.consented}")) == 1


def test_push_with_nothing_queued_sends_nothing(day, model_bundle, fhir_server, tmp_path, capsys):
    base, token = fhir_server
    tf = _token_file(tmp_path, token)
    assert _push(day, model_bundle, base, tf) == 0
    capsys.readouterr()
    assert _push(day, model_bundle, base, tf) == 0
    assert "pushed 0 screenings in 0 transactions" in capsys.readouterr().err


class _Canned(http.server.BaseHTTPRequestHandler):
    """A server of fixed answers, quiet on stderr."""

    def answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _serving(handler: type[_Canned]):
    """``handler`` on a free local port, for the ``with`` block; yields the server's base address."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/"
    finally:
        srv.shutdown()
        srv.server_close()


class _Failing(_Canned):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps(
            {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "fatal", "code": "exception", "diagnostics": "database offline"}],
            }
        ).encode()
        self.answer(503, "application/fhir+json", body)


@pytest.fixture
def failing_server():
    """A server that answers every transaction 503 (a FHIR server whose database is down)."""
    with _serving(_Failing) as base:
        yield base + "fhir/R4"


@pytest.mark.parametrize(
    "case, expected",
    [
        ("down", "could not reach"),
        ("wrong token", "refused the token (HTTP 401"),
        ("server error", "the server failed (HTTP 503): database offline"),
    ],
)
def test_a_failed_push_leaves_every_result_queued_and_says_why(
    case, expected, day, model_bundle, fhir_server, failing_server, tmp_path, capsys
):
    base, token = fhir_server
    url = {"down": f"http://127.0.0.1:{free_port()}/fhir/R4", "wrong token": base, "server error": failing_server}[case]
    tf = _token_file(tmp_path, "not-the-token" if case == "wrong token" else token)
    assert _push(day, model_bundle, url, tf, "--batch", "2") == 1
    err = capsys.readouterr().err
    assert expected in err and "5 results stay queued" in err
    assert Outbox(day.data_dir).pushed_ids(url) == set()
    # once the server is back (here: the real one, with the right token) everything goes
    assert _push(day, model_bundle, base, _token_file(tmp_path, token)) == 0
    assert Outbox(day.data_dir).pushed_ids(base) == set(day.ids)


def test_a_screening_the_server_finds_invalid_stays_queued_and_the_others_go(
    day, model_bundle, fhir_server, tmp_path, capsys, monkeypatch
):
    """The server really validates: a misspelt element in one screening's Observation (which
    fhir.resources would refuse, so it is planted after our checks) makes its transaction fail with
    the server's reason. The batch is halved down to that screening, which stays queued and is named;
    the other four go. The push stopped at that batch, and since a push starts from the oldest
    screening, one such screening held every later one back at every push."""
    from facescreen.kiosk.fhir import bundle as fhir_bundle

    real, bad = fhir_bundle.transaction_bundle, day.ids[2]

    def planted(*a, **kw):
        b = real(*a, **kw)
        for e in b["entry"]:
            res = e["resource"]
            if res["resourceType"] == "Observation" and res["identifier"][0]["value"] == bad:
                res["interpretaton"] = res.pop("interpretation")
        return b

    monkeypatch.setattr("facescreen.kiosk.fhir.push.transaction_bundle", planted)
    base, token = fhir_server
    assert _push(day, model_bundle, base, _token_file(tmp_path, token)) == 1
    err = capsys.readouterr().err.splitlines()
    refused = [line for line in err if "stays queued" in line]
    assert len(refused) == 1 and f"push: screening {bad} stays queued: the server refused" in refused[0]
    assert "(HTTP 400)" in refused[0] and "interpretaton" in refused[0], refused
    assert "pushed 4 screenings" in "\n".join(err)
    assert Outbox(day.data_dir).pushed_ids(base) == set(day.ids) - {bad}

    monkeypatch.setattr("facescreen.kiosk.fhir.push.transaction_bundle", real)  # corrected: it goes too
    assert _push(day, model_bundle, base, _token_file(tmp_path, token)) == 0
    assert Outbox(day.data_dir).pushed_ids(base) == set(day.ids)


def test_dry_run_prints_the_bundle_and_marks_nothing(day, model_bundle, tmp_path, capsys):
    url = f"http://127.0.0.1:{free_port()}/fhir/R4"  # nothing listens: a dry run never connects
    assert _push(day, model_bundle, url, None, "--dry-run") == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["resourceType"] == "Bundle" and printed["type"] == "transaction"
    assert printed == _export(day, model_bundle, tmp_path)
    assert Outbox(day.data_dir).pushed_ids(url) == set()


def test_results_of_a_model_replaced_in_place_export_from_the_stores_record(day, model_bundle, tmp_path, capsys):
    """A clinic updates its kiosk's model in place: the previous version's bundle is gone, and the Device
    of its results (the kiosk's own, and a tablet's the kiosk now takes) needs that card's hash, so they
    could never be exported or pushed again. The store records each model it served with its card's
    hash; the same Bundle comes out without the old bundle, and a model it never served still needs one."""
    import shutil

    import factories

    from facescreen.edge.bundle import MODELCARD, load_bundle, save_card, sha256_file
    from facescreen.kiosk.store import ResultsStore, ServedModelRow

    with_bundle = _export(day, model_bundle, tmp_path)
    card = load_bundle(model_bundle, verify=False).card
    served = {
        "model_id": card.model_id,
        "version": card.version,
        "threshold": card.threshold,
        "not_for_clinical_use": card.not_for_clinical_use,
        "intended_use": card.intended_use,
        "card_sha256": sha256_file(model_bundle / MODELCARD),
    }
    unrecorded = ["export", "--fhir", "--data-dir", str(day.data_dir), "--bundle", str(tmp_path / "other")]
    shutil.rmtree(model_bundle)  # replaced in place; the kiosk runs another model now
    save_card(tmp_path / "other", factories.make_card(model_id="m-other", version="9", backbone="vgg16"))
    assert main([*unrecorded, "--out", str(tmp_path / "no.json")]) == 2  # no record: m-test v3 needs its bundle
    assert "m-test v3 need that model's bundle" in capsys.readouterr().err
    store = ResultsStore(day.data_dir)
    store.note_served(ServedModelRow.of_card(served))
    store.close()
    assert main([*unrecorded, "--out", str(tmp_path / "day.json")]) == 0
    assert json.loads((tmp_path / "day.json").read_text()) == with_bundle


@pytest.mark.parametrize(
    "command, url, told",
    [
        ("push", "fhir.example.org/fhir", "a FHIR server's base URL starts with https://"),
        ("push", "localhost:8103/fhir/R4", "a FHIR server's base URL starts with https://"),
        ("push", "ftp://fhir.example.org/", "a FHIR server's base URL starts with https://"),
        ("push", "https:///fhir", "names no server"),
        ("field-report", "http://[::1/fhir", "is not a URL (Invalid port"),
    ],
)
def test_a_url_that_cannot_be_a_fhir_server_is_refused_before_anything_runs(command, url, told, tmp_path, capsys):
    """Without its scheme a URL was tried and 'could not be reached' (exit 1, as if the server were
    down); one httpx cannot parse ended in its traceback."""
    with pytest.raises(SystemExit) as stop:
        main([command, "--data-dir", str(tmp_path), "--fhir-url", url])
    assert stop.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and f"argument --fhir-url: {url!r}" in err[0] and told in err[0], err


class _NotFhir(_Canned):
    """What a mistyped base URL often reaches: a web site or a proxy's login page (HTML, 200 or 404)."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.answer(404 if "Device" in self.path else 200, "text/html", b"<html><body>Sign in</body></html>")


def test_reading_a_server_that_is_not_fhir_says_so(monkeypatch):
    from facescreen.kiosk.fhir import pull as fhir_pull
    from facescreen.kiosk.fhir.push import PushRefused

    with _serving(_NotFhir) as base:
        with pytest.raises(
            PushRefused, match=r"answered Observation\?code=.* with no FHIR search Bundle \(text/html\)"
        ):
            fhir_pull.pull(base, None)  # HTML with 200: was a JSONDecodeError
        real = fhir_pull.search_all
        monkeypatch.setattr(
            fhir_pull, "search_all", lambda c, b, q: [] if q.startswith("Observation") else real(c, b, q)
        )
        with pytest.raises(PushRefused, match=r"answered HTTP 404 to Device\?_count=500: no OperationOutcome"):
            fhir_pull.pull(base, None)  # HTML with 404: was a JSONDecodeError too


class _BadPage(_Canned):
    """A search answer that says it is a Bundle but is not shaped as one (a proxy's rewrite, a bug)."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.answer(200, "application/fhir+json", json.dumps({"resourceType": "Bundle", "entry": "none"}).encode())


def test_a_search_page_not_shaped_as_a_bundle_says_where(monkeypatch):
    from facescreen.kiosk.fhir import pull as fhir_pull
    from facescreen.kiosk.fhir.push import PushRefused

    with _serving(_BadPage) as base:
        with pytest.raises(PushRefused, match=r"with a Bundle that is not FHIR's: entry: Input should be a valid list"):
            fhir_pull.pull(base, None)  # was a TypeError: string indices must be integers
