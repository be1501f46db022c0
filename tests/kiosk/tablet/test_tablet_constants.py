"""Constants the browser's modules carry in JavaScript, pinned in real headless Chromium against their
Python homes, so a change on one side fails here instead of drifting: the MTCNN cascade's defaults
(CascadeConfig), each network's output roles (mtcnn_manifest.OUTPUT_ROLES), the sharpness measure's
working width and the light and zoom measures' constants (kiosk.quality.image) and the quality
measures themselves, in the registry's priority order with what each needs
(kiosk.quality.DEFAULT_MEASURES)."""

from __future__ import annotations

import pytest
from page_modules import bridge

from facescreen.kiosk.tools.browser import browser_skip_reason

pytestmark = pytest.mark.skipif(browser_skip_reason() is not None, reason=str(browser_skip_reason()))

IMAGE_CONSTANTS = ("CRUSHED", "BLOWN", "CHEEK_ZONE", "CHEEK_DROP", "REPEAT_FRACTION")


@pytest.fixture(scope="module")
def js_constants(harness_page) -> dict:
    read = bridge(harness_page)
    return {
        "cascade": read("mtcnn", "CASCADE_DEFAULTS"),
        "roles": read("mtcnn", "OUTPUT_ROLES"),
        "sharpness_width": read("quality", "SHARPNESS_WIDTH"),
        "measures": [[m["name"], m["needs"]] for m in read("quality", "MEASURES")],
        "image": {k: read("quality", k) for k in IMAGE_CONSTANTS},
    }


def test_cascade_defaults(js_constants):
    from facescreen.edge.detectors.mtcnn_cascade import CascadeConfig

    assert js_constants["cascade"] == CascadeConfig().to_dict()


def test_output_roles(js_constants):
    from facescreen.edge.detectors.mtcnn_manifest import OUTPUT_ROLES

    assert js_constants["roles"] == {net: {str(k): v for k, v in roles.items()} for net, roles in OUTPUT_ROLES.items()}


def test_sharpness_width(js_constants):
    from facescreen.kiosk.quality.image import SHARPNESS_WIDTH

    assert js_constants["sharpness_width"] == SHARPNESS_WIDTH


def test_light_and_zoom_constants(js_constants):
    from facescreen.kiosk.quality import image

    assert js_constants["image"] == {k: getattr(image, k) for k in IMAGE_CONSTANTS}


def test_measures_are_the_registry_in_its_order(js_constants):
    from facescreen.kiosk.quality import DEFAULT_MEASURES

    assert js_constants["measures"] == [[m.name, m.needs] for m in DEFAULT_MEASURES]


def test_the_tablets_first_language_is_the_kiosks_rule(harness_page):
    """core/language.js picks the tablet's first language (where none was chosen on it) by the rule the
    kiosk resolves the phone page's with (kiosk/messages.py `language`), from the aliases app.json
    carries: every alias, every catalogue language, regional tags and tags without a table."""
    from facescreen.kiosk.messages import ALIASES, LANGUAGES, language

    def python(tags: list[str]) -> str:
        for tag in tags:
            try:
                return language(tag)
            except ValueError:
                continue
        return "en"

    read = bridge(harness_page)
    singles = [*ALIASES, *LANGUAGES, "es-MX", "ar-EG", "fr-CA", "zh-TW", "zh-Hans-CN", "de-DE", "de", "x", ""]
    for tags in [[t] for t in singles] + [["de-DE", "fr-CA", "es"], ["de", "nl"], ["pt-BR", "en"], []]:
        assert read("language", "browserLanguage", tags, list(LANGUAGES), ALIASES) == python(tags), tags
    assert python(["es-MX"]) == "es" and python(["zh-CN"]) == "zh-Hans" and python(["de-DE"]) == "en"
