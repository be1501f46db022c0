"""The run configuration: one frozen, validated tree, built as preset <- YAML file <- command line,
and saved with the run (``config.yaml``) so that a run can be repeated or resumed exactly.

Every section is a frozen dataclass validated in ``__post_init__``; an unknown key is an error
that lists the valid ones, so a misspelt option never becomes a silent default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from facescreen.edge.textfile import read_text

from .data.augment import AugmentConfig
from .model import INITIAL_WEIGHTS, ModelConfig
from .optimisers import OptimiserConfig
from .thresholds import ThresholdConfig

MONITORS = ("val_loss", "val_auc")
CLASS_WEIGHTS = ("none", "balanced")
MIXED_PRECISION = ("off", "float16", "bfloat16")
XLA = ("auto", "on", "off")


class ConfigError(ValueError):
    """A configuration value or key is wrong; the message names it and the valid choices."""


def _choice(name: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")


@dataclass(frozen=True)
class ModelSection:
    backbone: str = "vgg16"
    input_size: int = 224
    head_filters: tuple[int, ...] = (512, 512)
    dropout: float = 0.5
    init: str = "none"  # none | imagenet | vggface
    weights: str | None = None  # weight file for init (else the Keras cache for imagenet)

    def __post_init__(self) -> None:
        object.__setattr__(self, "head_filters", tuple(int(v) for v in self.head_filters))
        _choice("model.init", self.init, INITIAL_WEIGHTS)
        if self.init == "none" and self.weights:
            raise ConfigError("model.weights is given but model.init is 'none'; choose --init imagenet or vggface")
        self.model_config(("a", "b"), ("b",))  # validates backbone, size, dropout, init/backbone pairing

    def model_config(self, classes: tuple[str, ...], positive: tuple[str, ...]) -> ModelConfig:
        return ModelConfig(
            backbone=self.backbone,
            input_size=self.input_size,
            classes=tuple(classes),
            positive_classes=tuple(positive),
            head_filters=self.head_filters,
            dropout=self.dropout,
            initial_weights=self.init,
        )


@dataclass(frozen=True)
class FitConfig:
    batch_size: int = 16
    epochs: int = 100
    patience: int = 10  # early stopping on validation; 0 trains every epoch (best one kept)
    monitor: str = "val_loss"  # what "best" means on the validation split
    class_weight: str = "none"  # none | balanced
    checkpoint_every: int = 1  # epochs between resume checkpoints (0: an interrupted fold restarts)
    tensorboard: bool = False  # Keras' TensorBoard callback, logs under RUN_DIR/folds/*/tensorboard

    def __post_init__(self) -> None:
        if self.checkpoint_every < 0:
            raise ConfigError(f"fit.checkpoint_every must be >= 0, got {self.checkpoint_every}")
        if self.batch_size < 2:
            raise ConfigError(f"fit.batch_size must be >= 2 (batch normalisation), got {self.batch_size}")
        if self.epochs < 1:
            raise ConfigError(f"fit.epochs must be >= 1, got {self.epochs}")
        if self.patience < 0:
            raise ConfigError(f"fit.patience must be >= 0, got {self.patience}")
        _choice("fit.monitor", self.monitor, MONITORS)
        _choice("fit.class_weight", self.class_weight, CLASS_WEIGHTS)


@dataclass(frozen=True)
class CVConfig:
    n_folds: int = 5
    group_by_subject: bool = False
    stratify_by_syndrome: bool = True
    shuffle_labels: bool = False  # negative control: labels permuted across subjects

    def __post_init__(self) -> None:
        if not 3 <= self.n_folds <= 20:
            raise ConfigError(f"cv.n_folds must be in 3..20 (the papers use 5), got {self.n_folds}")


@dataclass(frozen=True)
class EvalConfig:
    bootstrap: int = 2000  # ROC band resamples (pROC's default; at least 200)
    conf_level: float = 0.95
    top_k: tuple[int, ...] = (1, 2, 3)
    explain_faces: int = 8  # test faces per fold in the CAM / Grad-CAM panels (0: none)
    explain: tuple[str, ...] = ("cam", "gradcam")
    temperature_scaling: bool = False  # fit a temperature on each validation split (training.calibration)
    calibration_bins: int = 10  # equal-width bins of the reliability diagram and the ECE
    fixed_specificity: float = 0.90  # report the sensitivity (with its bootstrap interval) at this specificity
    subgroups: tuple[str, ...] = ()  # extra manifest columns to report per group (age band, sex, syndrome always)
    age_bands: tuple[float, ...] = (0, 24, 48, 72, 144)  # age band edges in months
    min_subgroup: int = 10  # fewer positives or negatives than this: "too small to judge"
    # the prevalence(s) of syndromic children where the screen is meant to be used: PPV and NPV are
    # reported there (the study's own case-control mix says nothing of a clinic's); empty: not stated
    prevalence: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "top_k", tuple(int(k) for k in self.top_k))
        object.__setattr__(self, "explain", tuple(self.explain))
        object.__setattr__(self, "subgroups", tuple(self.subgroups))
        object.__setattr__(self, "age_bands", tuple(float(a) for a in self.age_bands))
        object.__setattr__(self, "prevalence", tuple(float(p) for p in self.prevalence))
        bad = [p for p in self.prevalence if not 0.0 < p < 1.0]
        if bad:
            raise ConfigError(f"evaluation.prevalence must lie in (0, 1) (e.g. 0.02 for 2%), got {bad}")
        if not 2 <= self.calibration_bins <= 50:
            raise ConfigError(f"evaluation.calibration_bins must be in 2..50, got {self.calibration_bins}")
        if not 0.0 < self.fixed_specificity < 1.0:
            raise ConfigError(f"evaluation.fixed_specificity must be in (0, 1), got {self.fixed_specificity}")
        if self.min_subgroup < 1:
            raise ConfigError(f"evaluation.min_subgroup must be >= 1, got {self.min_subgroup}")
        if list(self.age_bands) != sorted(set(self.age_bands)) or len(self.age_bands) < 2:
            raise ConfigError(
                f"evaluation.age_bands must be at least two increasing ages in months, got {list(self.age_bands)}"
            )
        if self.bootstrap < 200:
            raise ConfigError(f"evaluation.bootstrap must be >= 200 (pROC uses 2000), got {self.bootstrap}")
        if not 0.5 < self.conf_level < 1.0:
            raise ConfigError(f"evaluation.conf_level must be in (0.5, 1), got {self.conf_level}")
        if self.explain_faces < 0:
            raise ConfigError(f"evaluation.explain_faces must be >= 0, got {self.explain_faces}")
        for m in self.explain:
            _choice("evaluation.explain", m, ("cam", "gradcam"))


@dataclass(frozen=True)
class DataConfig:
    negative_classes: tuple[str, ...] = ()  # empty: the one of control/healthy/normal/unaffected
    detector: str = "mtcnn"
    detector_bundle: str | None = None  # the bundle a converted detector (mtcnn-lite) is taken from
    min_face_confidence: float = 0.90
    reject_multiple_faces: bool = False
    cache_dir: str | None = None  # alignment cache; default RUN_DIR/align-cache (never the home dir)
    notice: str = ""  # said wherever results appear (e.g. "SYNTHETIC COHORT ...")

    def __post_init__(self) -> None:
        object.__setattr__(self, "negative_classes", tuple(self.negative_classes))
        if not 0.0 <= self.min_face_confidence < 1.0:
            raise ConfigError(f"data.min_face_confidence must be in [0, 1), got {self.min_face_confidence}")


@dataclass(frozen=True)
class RuntimeConfig:
    mixed_precision: str = "off"  # off | float16 | bfloat16
    xla: str = "auto"  # auto (Keras' choice: on for GPUs) | on | off
    distribute: str = "none"  # none | mirrored | multi-worker | data-parallel
    workers: int = 1  # PyDataset worker threads

    def __post_init__(self) -> None:
        from .runtime import DISTRIBUTIONS

        _choice("runtime.mixed_precision", self.mixed_precision, MIXED_PRECISION)
        _choice("runtime.xla", self.xla, XLA)
        _choice("runtime.distribute", self.distribute, tuple(DISTRIBUTIONS.names()))
        if self.workers < 1:
            raise ConfigError(f"runtime.workers must be >= 1, got {self.workers}")


@dataclass(frozen=True)
class FinalConfig:
    strategy: str = "refit"  # refit | all | none (see training.final)
    model_id: str = ""
    intended_use: str = ""

    def __post_init__(self) -> None:
        from .final import FINAL_STRATEGIES

        _choice("final.strategy", self.strategy, tuple(FINAL_STRATEGIES.names()))


SECTIONS: dict[str, type] = {
    "model": ModelSection,
    "optimiser": OptimiserConfig,
    "fit": FitConfig,
    "augment": AugmentConfig,
    "cv": CVConfig,
    "threshold": ThresholdConfig,
    "evaluation": EvalConfig,
    "data": DataConfig,
    "runtime": RuntimeConfig,
    "final": FinalConfig,
}


@dataclass(frozen=True)
class TrainConfig:
    preset: str = "custom"
    seed: int = 0
    model: ModelSection = field(default_factory=ModelSection)
    optimiser: OptimiserConfig = field(default_factory=OptimiserConfig)
    fit: FitConfig = field(default_factory=FitConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    cv: CVConfig = field(default_factory=CVConfig)
    threshold: ThresholdConfig = field(default_factory=ThresholdConfig)
    evaluation: EvalConfig = field(default_factory=EvalConfig)
    data: DataConfig = field(default_factory=DataConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    final: FinalConfig = field(default_factory=FinalConfig)

    def to_dict(self) -> dict:
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict, where: str = "config") -> TrainConfig:
        if not isinstance(d, dict):
            raise ConfigError(f"{where}: expected a mapping of sections, got {type(d).__name__}")
        _check_keys(d, [f.name for f in dataclasses.fields(cls)], where, "")
        kw: dict[str, Any] = {k: v for k, v in d.items() if k not in SECTIONS}
        for name, section in SECTIONS.items():
            values = d.get(name) or {}
            if not isinstance(values, dict):
                raise ConfigError(f"{where}: section '{name}' must be a mapping, got {values!r}")
            _check_keys(values, [f.name for f in dataclasses.fields(section)], where, name + ".")
            try:
                kw[name] = section(**values)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{where}: section '{name}': {exc}") from None
        return cls(**kw)

    def to_yaml(self, path: Path) -> Path:
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        return path


def _check_keys(d: dict, valid: list[str], where: str, prefix: str) -> None:
    unknown = [k for k in d if k not in valid]
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(prefix + str(k) for k in unknown)}; "
            f"valid keys{' in ' + prefix.rstrip('.') if prefix else ''}: {', '.join(valid)}"
        )


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def set_dotted(d: dict, dotted: str, value: Any) -> dict:
    """``set_dotted(d, "fit.epochs", 5)`` -> a copy of ``d`` with that value."""
    keys = dotted.split(".")
    if len(keys) > 2 or not all(keys):
        raise ConfigError(f"expected KEY or SECTION.KEY, got {dotted!r}")
    patch: dict = {keys[-1]: value}
    for k in reversed(keys[:-1]):
        patch = {k: patch}
    return deep_merge(d, patch)


def load_yaml(path: str | Path) -> dict:
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"{p} is a folder; give a YAML config file")
    if not p.is_file():
        raise ConfigError(f"no such config file: {p}")
    try:
        d = yaml.safe_load(read_text(p, ConfigError)) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p} is not valid YAML: {exc}") from None
    if not isinstance(d, dict):
        raise ConfigError(f"{p}: expected a mapping of sections at the top level")
    return d


def build_config(
    preset: str | None = None, yaml_files: list[str | Path] = (), overrides: dict | None = None
) -> TrainConfig:
    """Preset, then each YAML file, then ``overrides`` (a nested dict, e.g. from the command line)."""
    from .presets import preset_dict

    d: dict = {}
    if preset:
        d = preset_dict(preset)
    where = f"preset {preset}" if preset else "config"
    for f in yaml_files:
        d = deep_merge(d, load_yaml(f))
        where = str(f)
    d = deep_merge(d, overrides or {})
    return TrainConfig.from_dict(d, where if not overrides else f"{where} + command line")
