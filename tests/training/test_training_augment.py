"""Augmentation in numpy/OpenCV: the papers' rotation, crop/rescale and flip; RandAugment-style ops."""

from __future__ import annotations

import numpy as np
import pytest

from facescreen.training.data.augment import (
    RANDAUGMENT_OPS,
    AugmentConfig,
    augment_batch,
    augment_image,
    geometric_matrix,
)


@pytest.fixture(scope="module")
def face(astronaut):
    import cv2

    return cv2.resize(astronaut[:256, 96:352], (64, 64), interpolation=cv2.INTER_AREA)


def test_flip_only_mirrors_exactly(face):
    cfg = AugmentConfig(rotation_deg=0, scale=(1, 1), shift=0, hflip=True)
    rng = np.random.default_rng(0)
    outs = [augment_image(face, rng, cfg) for _ in range(20)]
    assert all(np.array_equal(o, face) or np.array_equal(o, face[:, ::-1]) for o in outs)
    assert any(np.array_equal(o, face[:, ::-1]) for o in outs) and any(np.array_equal(o, face) for o in outs)


def test_geometry_stays_within_the_configured_ranges():
    cfg = AugmentConfig(rotation_deg=10, scale=(0.9, 1.1), shift=0.05, hflip=False)
    rng = np.random.default_rng(1)
    for _ in range(200):
        m = geometric_matrix(64, rng, cfg)
        zoom = np.sqrt(abs(np.linalg.det(m[:, :2])))
        angle = np.degrees(np.arctan2(-m[0, 1], m[0, 0]))
        assert 0.9 - 1e-9 <= zoom <= 1.1 + 1e-9 and abs(angle) <= 10 + 1e-9
        centre = m @ np.array([31.5, 31.5, 1.0])
        assert np.all(np.abs(centre - 31.5) <= 0.05 * 64 + 1e-9)


def test_same_seed_same_images_and_disabled_is_identity(face):
    batch = np.stack([face] * 4)
    cfg = AugmentConfig(randaugment_n=2, randaugment_magnitude=6)
    a = augment_batch(batch, np.random.default_rng(5), cfg)
    b = augment_batch(batch, np.random.default_rng(5), cfg)
    c = augment_batch(batch, np.random.default_rng(6), cfg)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.shape == batch.shape and a.dtype == np.uint8
    assert augment_batch(batch, np.random.default_rng(0), AugmentConfig(enabled=False)) is batch


@pytest.mark.parametrize("name", RANDAUGMENT_OPS.names())
def test_every_randaugment_operation(face, name):
    op = RANDAUGMENT_OPS.get(name)
    out = op(face, 1.0, np.random.default_rng(0))
    assert out.shape == face.shape and out.dtype == np.uint8
    if name != "identity":
        assert not np.array_equal(out, face), f"{name} at full magnitude changed nothing"
    assert np.array_equal(op(face, 0.0, np.random.default_rng(0)), face) or name in (
        "autocontrast",
        "equalize",
        "posterize",
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rotation_deg": 90}, "rotation_deg"),
        ({"scale": (1.2, 1.1)}, "scale"),
        ({"shift": 0.5}, "shift"),
        ({"randaugment_n": 99}, "randaugment_n"),
        ({"randaugment_magnitude": 11}, "randaugment_magnitude"),
    ],
)
def test_bad_augment_configs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AugmentConfig(**kwargs)
