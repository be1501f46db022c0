"""Nothing the kiosk shows may read as a diagnosis: every message, the capture page, the API
documentation and the demo's printout are scanned for forbidden wording."""

from __future__ import annotations

import json
import re
import string

import pytest

from facescreen.edge.result import NO_FLAG, REFER
from facescreen.kiosk.banner import BANNER_HTML
from facescreen.kiosk.messages import MESSAGES, message
from facescreen.kiosk.server.routers.pages import PAGE
from facescreen.kiosk.server.routers.pages import STATIC_DIR as STATIC  # the capture page's scripts

FORBIDDEN = re.compile(
    r"diagnos|has down|down syndrome|syndrome detected|detected syndrome|has (a|the) syndrome|"
    r"your child has|you have|positive for|affected by|确诊|患有|诊断|"
    r"diagnóstic|tiene el síndrome|tem a síndrome|a le syndrome|atteint de|portador de|تشخيص|مصاب ب",
    re.IGNORECASE,
)
# the only allowed uses: saying that it is NOT a diagnosis
ALLOWED = re.compile(
    r"not a diagnosis|not a diagnostic device|never a diagnosis|不是诊断|"
    r"no es un diagnóstico|n'est pas un diagnostic|não é um diagnóstico|وليست تشخيصًا",
    re.IGNORECASE,
)


def forbidden_in(text: str) -> list[str]:
    return FORBIDDEN.findall(ALLOWED.sub("", text))


@pytest.mark.parametrize("lang", sorted(MESSAGES))
def test_no_message_reads_as_a_diagnosis(lang):
    bad = {k: v for k, v in MESSAGES[lang].items() if forbidden_in(v)}
    assert not bad


def test_the_scanner_catches_what_it_must():
    for phrase in (
        "Diagnosis: Down syndrome",
        "Your child has Williams syndrome",
        "Syndrome detected",
        "诊断为唐氏综合征",
        "positive for Noonan",
        "Diagnóstico: síndrome de Down",
        "L'enfant est atteint de",
        "تشخيص متلازمة داون",
    ):
        assert forbidden_in(phrase), phrase
    assert not forbidden_in("This is a screening flag for referral, not a diagnosis.")
    for lang in ("es", "fr", "pt", "ar"):  # each language's own "not a diagnosis" is allowed, and only that
        assert not forbidden_in(message("result_note", lang)), lang


TABLET = STATIC.parents[1] / "tablet" / "web"  # the offline tablet app (kiosk/tablet)


@pytest.mark.parametrize(
    "path",
    sorted(
        [BANNER_HTML]
        + [
            p
            for d in (PAGE.parent, STATIC, TABLET)
            for p in d.rglob("*")
            if p.suffix in (".html", ".js", ".css", ".webmanifest")
        ]
    ),
    ids=lambda p: p.name,
)
def test_page_wording(path):
    assert not forbidden_in(path.read_text(encoding="utf-8"))


def test_api_documentation_wording(kiosk_bundle, tmp_path, engine):
    from facescreen.kiosk.server import Settings, create_app

    app = create_app(Settings(bundle=kiosk_bundle, data_dir=tmp_path), engine=engine)
    assert not forbidden_in(json.dumps(app.openapi(), ensure_ascii=False))


def test_result_labels_and_summary_are_screening_flags():
    assert not forbidden_in(REFER) and not forbidden_in(NO_FLAG)
    for lang in MESSAGES:
        assert message(REFER, lang) and message(NO_FLAG, lang)


def test_every_language_has_every_message_with_the_same_fields():
    fields = lambda s: {f for _, f, _, _ in string.Formatter().parse(s) if f}  # noqa: E731
    en = MESSAGES["en"]
    for lang, table in MESSAGES.items():
        assert set(table) == set(en), (lang, set(en) ^ set(table))
        for k, v in table.items():
            assert v.strip() and fields(v) == fields(en[k]), (lang, k)
    with pytest.raises(KeyError):
        message("no_such_key")
    assert message("move_closer", "zh-CN") == MESSAGES["zh-Hans"]["move_closer"]
