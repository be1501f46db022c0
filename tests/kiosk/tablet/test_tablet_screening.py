"""The browser's post-processing (kiosk/tablet/web/core/screening.js) pinned in real headless
Chromium against the Python functions it ports (edge.postprocess.apply_temperature,
screening_probability and flagged, the one home of the flag rule): the card's temperature, the
positive classes' sum and ``probability >= threshold``, at the threshold itself included."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from facescreen.edge.postprocess import apply_temperature, flagged, screening_probability
from facescreen.kiosk.tools.browser import browser_skip_reason

pytestmark = pytest.mark.skipif(browser_skip_reason() is not None, reason=str(browser_skip_reason()))


@pytest.fixture(scope="module")
def js(harness_page):
    from facescreen.kiosk.tablet.parity import module_call

    return functools.partial(module_call, harness_page, "core/screening.js")


def _probs(seed: int, k: int, n: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(k, 0.4), size=n).astype(np.float32)
    p[0] = 0.0
    p[0, 0] = 1.0  # a quantised output's exact zeros: the floor before the logarithm
    p[1] = np.float32(1 / 256) * np.round(p[1] / np.float32(1 / 256))  # int8 steps
    return p


# (temperature, classes, positive indices): the README's T = 1.52, a sharpening T < 1, none; binary and
# three classes with two positive
CASES = [(1.0, 2, [1]), (1.52, 2, [1]), (0.7, 2, [1]), (2.5, 3, [1, 2]), (1.0, 3, [0, 2])]


@pytest.mark.parametrize("t,k,positive", CASES)
def test_temperature_and_screening_probability_equal_python(js, t, k, positive):
    probs = _probs(int(t * 100) + k, k)
    # Screener.predict: temperature in float64, then float32; screening_probability on those
    scaled = apply_temperature(probs, t).astype(np.float32)
    want = screening_probability(scaled, positive)
    for row, w_scaled, w_p in zip(probs, scaled, want):
        got = js("applyTemperature", [float(v) for v in row], t)
        np.testing.assert_allclose(got, w_scaled, rtol=0, atol=2e-7)
        # the sum over the very float32 values Python summed: equal to the last bit
        assert js("screeningProbability", [float(v) for v in w_scaled], positive) == float(w_p)


@pytest.mark.parametrize(
    "p,threshold",
    [
        (0.3, 0.3),
        (0.29999999, 0.3),
        (0.30000001, 0.3),
        (0.0, 0.01),
        (1.0, 0.99),
        (0.5, 0.5),
        (float(np.float32(0.3)), 0.3),
    ],
)
def test_flag_rule_equals_python_at_and_around_the_threshold(js, p, threshold):
    assert js("flagged", p, threshold) is bool(flagged(p, threshold))


def test_temperature_refuses_what_python_refuses(js):
    with pytest.raises(ValueError):
        apply_temperature(np.array([[0.5, 0.5]]), 0.0)
    with pytest.raises(Exception, match="temperature must be a finite number > 0"):
        js("applyTemperature", [0.5, 0.5], 0)
