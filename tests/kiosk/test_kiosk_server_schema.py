"""The API against its own OpenAPI schema: a bounded schemathesis run (about 25 generated requests
per operation, a few hundred in all) on the real server (uvicorn on 127.0.0.1), with the token.
Every answer must be documented for its operation, be valid against the documented schema and
content type, and never be a server error."""

from __future__ import annotations

import pytest
import tf_free

if tf_free.TF_FREE:  # the Jetson-like environment installs facescreen[jetson] and no dev extra
    pytest.skip("schemathesis is in the dev extra, which make test-py310 does not install", allow_module_level=True)

import schemathesis  # noqa: E402  (the dev extra: a missing one is an error here, not a skip)
from hypothesis import HealthCheck, Phase, given  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from facescreen.kiosk.server import Settings, create_app  # noqa: E402

TOKEN = "s3cret-token-for-tests-0123"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = 25


def test_every_operation_honours_its_schema(kiosk_bundle, engine, tmp_path, live_server):
    settings = Settings(
        bundle=kiosk_bundle,
        data_dir=tmp_path,
        host="0.0.0.0",
        token=TOKEN,
        queue_depth=64,
        sessions_per_client=64,
        max_sessions=256,
        max_upload_bytes=2 * 2**20,
    )
    failures, counts = [], {}
    with live_server(create_app(settings, engine=engine)) as srv:
        schema = schemathesis.openapi.from_url(srv.url + "/openapi.json")
        operations = [r.ok() for r in schema.get_all_operations()]
        assert len(operations) >= 12, [op.label for op in operations]
        for op in operations:
            exercise(op, srv.url, counts, failures)
    print(f"\nschemathesis: {sum(counts.values())} requests over {len(counts)} operations")
    assert not failures, "\n\n".join(failures)
    assert sum(counts.values()) >= 200


def exercise(op, base_url: str, counts: dict, failures: list) -> None:
    """Up to EXAMPLES_PER_OPERATION generated requests to one operation; a failed check is recorded
    in `failures` and the next operation still runs."""

    @hypothesis_settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy())
    def run(case):
        counts[op.label] = counts.get(op.label, 0) + 1
        try:
            case.call_and_validate(
                base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS, timeout=60
            )
        except (AssertionError, FailureGroup) as exc:  # a check failed
            failures.append(f"{op.label}: {exc}: {[str(e)[:400] for e in getattr(exc, 'exceptions', [])]}")
            raise

    try:
        run()
    except (AssertionError, FailureGroup):
        pass  # recorded above
