"""Write a trained Keras screener as a bundle (``model.keras`` + ``modelcard.json``)."""

from __future__ import annotations

from pathlib import Path

import keras

from facescreen.edge.bundle import InputSpec, ModelCard, artifact_entry, save_card

from .flops import count_flops
from .model import ModelConfig

KERAS_ARTIFACT = "keras"
KERAS_FILE = "model.keras"


def model_card_for(cfg: ModelConfig, model_id: str, threshold: float, **fields) -> ModelCard:
    scale, offset = cfg.input_scale_offset()
    spec = InputSpec(
        size=cfg.input_size,
        normalisation={
            "in_graph": True,
            "kind": cfg.normalisation,
            "scale": scale,
            "offset": offset,
            "note": "the graph takes 0..255 RGB pixels and applies y = x * scale + offset per channel",
        },
    )
    return ModelCard(
        model_id=model_id,
        classes=tuple(cfg.classes),
        positive_classes=tuple(cfg.positive_classes),
        threshold=float(threshold),
        backbone=cfg.backbone,
        input=spec,
        initial_weights=cfg.initial_weights,
        **fields,
    )


def save_bundle(
    model: keras.Model, cfg: ModelConfig, out_dir: str | Path, model_id: str, threshold: float, **card_fields
) -> Path:
    """Save the model and its card; returns the bundle directory."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / KERAS_FILE)
    card = model_card_for(cfg, model_id, threshold, **card_fields)
    arts = dict(card.artifacts)
    arts[KERAS_ARTIFACT] = artifact_entry(
        out,
        KERAS_FILE,
        "keras",
        "fp32",
        role="reference",
        model_config=cfg.to_dict(),
        flops_per_image=count_flops(model),
    )
    from dataclasses import replace

    save_card(out, replace(card, artifacts=arts))
    return out
