"""Named starting points for a run. Each says which values come from a paper and which are ours.

``paper-vgg16``: the VGG-16 screening paper: VGG-16 at 224x224, initialised from VGG-Face, the
fully connected layers as convolutions with batch norm, ReLU and 50% dropout, RMSProp,
augmentation by rotation, crop and flip. Not stated there, chosen here: learning rate 1e-4,
batch 16, at most 100 epochs with early stopping after 10 without improvement on validation.

``paper-wbs``: the Williams-Beuren paper: ImageNet initialisation, SGD with learning rate 0.01,
batch 16, 100 epochs (no early stopping: every epoch is trained and the best epoch on validation
is kept); it compares VGG-16/19, ResNet-18/34 and MobileNet-V2 (pick one with --backbone).

``quick-cpu``: ours, for a first look on a laptop (and the demo): ResNet-18 at 112 px from
scratch, a 128-filter head, RMSProp 1e-3, 15 epochs.
"""

from __future__ import annotations

import copy

from facescreen.edge.registry import Registry

_PRESETS = {
    "paper-vgg16": {
        "model": {
            "backbone": "vgg16",
            "input_size": 224,
            "head_filters": [512, 512],
            "dropout": 0.5,
            "init": "vggface",
        },
        "optimiser": {"name": "rmsprop", "learning_rate": 1e-4},
        "fit": {"batch_size": 16, "epochs": 100, "patience": 10, "monitor": "val_loss"},
        "augment": {"rotation_deg": 10.0, "scale": [0.9, 1.1], "shift": 0.05, "hflip": True},
    },
    "paper-wbs": {
        "model": {
            "backbone": "vgg16",
            "input_size": 224,
            "head_filters": [512, 512],
            "dropout": 0.5,
            "init": "imagenet",
        },
        "optimiser": {"name": "sgd", "learning_rate": 0.01, "momentum": 0.0},
        "fit": {"batch_size": 16, "epochs": 100, "patience": 0, "monitor": "val_loss"},
        "augment": {"rotation_deg": 10.0, "scale": [0.9, 1.1], "shift": 0.05, "hflip": True},
    },
    "quick-cpu": {
        "model": {"backbone": "resnet18", "input_size": 112, "head_filters": [128], "dropout": 0.5, "init": "none"},
        "optimiser": {"name": "rmsprop", "learning_rate": 1e-3},
        "fit": {"batch_size": 16, "epochs": 15, "patience": 0, "monitor": "val_loss"},
        "augment": {"rotation_deg": 5.0, "scale": [1.0, 1.0], "shift": 0.0, "hflip": True},
        "evaluation": {"bootstrap": 1000},
    },
}

PRESETS: Registry[dict] = Registry("preset")
for _name, _d in _PRESETS.items():
    PRESETS.register(_name, lambda _d=_d: copy.deepcopy(_d))


def preset_dict(name: str) -> dict:
    """The preset's partial configuration, with its name recorded."""
    return {"preset": name, **PRESETS.create(name)}
