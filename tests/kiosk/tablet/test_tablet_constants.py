"""Constants the browser's modules carry in JavaScript, pinned in real headless Chromium against their
Python homes, so a change on one side fails here instead of drifting: the MTCNN cascade's defaults
(CascadeConfig), each network's output roles (mtcnn_manifest.OUTPUT_ROLES), the sharpness measure's
working width and the light and zoom measures' constants (kiosk.quality.image) and the quality
measures themselves, in the registry's priority order with what each needs
(kiosk.quality.DEFAULT_MEASURES)."""

from __future__ import annotations

import pytest

from facescreen.kiosk.tools.browser import browser_skip_reason

pytestmark = pytest.mark.skipif(browser_skip_reason() is not None, reason=str(browser_skip_reason()))

READ = """
const mtcnn = await import(new URL('core/mtcnn.js', location.href).href);
const quality = await import(new URL('core/quality.js', location.href).href);
return {
  cascade: mtcnn.CASCADE_DEFAULTS, roles: mtcnn.OUTPUT_ROLES, sharpness_width: quality.SHARPNESS_WIDTH,
  measures: quality.MEASURES.map((m) => [m.name, m.needs]),
  image: { CRUSHED: quality.CRUSHED, BLOWN: quality.BLOWN, CHEEK_ZONE: quality.CHEEK_ZONE,
           CHEEK_DROP: quality.CHEEK_DROP, REPEAT_FRACTION: quality.REPEAT_FRACTION },
};
"""


@pytest.fixture(scope="module")
def js_constants() -> dict:
    from facescreen.kiosk.tablet.export import WEB_DIR
    from facescreen.kiosk.tablet.parity import browser_call, static_server
    from facescreen.kiosk.tools.browser import Chrome

    with static_server(WEB_DIR) as url, Chrome() as chrome:
        chrome.get(url + "harness.html")
        return browser_call(chrome, READ)


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

    assert js_constants["image"] == {k: getattr(image, k) for k in js_constants["image"]}
    assert set(js_constants["image"]) == {"CRUSHED", "BLOWN", "CHEEK_ZONE", "CHEEK_DROP", "REPEAT_FRACTION"}


def test_measures_are_the_registry_in_its_order(js_constants):
    from facescreen.kiosk.quality import DEFAULT_MEASURES

    assert js_constants["measures"] == [[m.name, m.needs] for m in DEFAULT_MEASURES]
