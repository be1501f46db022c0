"""facescreen-train: train and evaluate the screener with the source papers' protocol.

  facescreen-train cv --data DIR_OR_CSV --out RUN_DIR [--preset paper-vgg16] [options]
  facescreen-train config [--preset ...] [options]     print the resolved configuration (YAML)
  facescreen-train demo-bundle [--cache .cache]         the demo bundle (SYNTHETIC cohort)
  facescreen-train bench-bundle [--cache .cache]        the VGG-16 @ 224 benchmark bundle (latency only)

Configuration is built as: preset, then --config file(s), then --set KEY=VALUE, then the
individual flags below; the result is saved as RUN_DIR/config.yaml. Aligned faces are cached in
RUN_DIR/align-cache, or in --align-cache DIR (to share between runs); never elsewhere.
Exit status: 0 done; 2 a user's mistake (configuration, data, run directory); 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from facescreen.edge import clikit

# The configuration flags come from registries in modules that import Keras; they are built only
# for the commands that take them, so `facescreen-train --help` answers without TensorFlow.
PROG = "facescreen-train"
CONFIG_COMMANDS = ("cv", "config", "compare-backbones")


def _floats(text: str) -> list[float]:
    return [clikit.number(v, float, f"expected numbers separated by commas, got {text!r}") for v in _words(text)]


def _ints(text: str) -> list[int]:
    return [clikit.number(v, int, f"expected whole numbers separated by commas, got {text!r}") for v in _words(text)]


def _words(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _backbone_names(text: str) -> list[str]:
    """``--backbones``: checked where it is parsed, so a misspelt name costs no photo alignment."""
    from .backbones import BACKBONES

    names = _words(text)
    unknown = [n for n in names if n not in BACKBONES.names()]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown backbone(s) {', '.join(unknown) or '(none given)'}; valid: {', '.join(BACKBONES.names())}"
        )
    return names


@dataclass(frozen=True)
class Flag:
    """A command-line flag that sets one configuration key, ``section.name``: the name is the flag's own
    (``--input-size`` in section model sets ``model.input_size``) unless ``name`` gives another."""

    flag: str
    help: str
    type: Callable[[str], Any] | None = None
    choices: Iterable[str] | None = None  # a tuple, or a registry (it iterates its names)
    const: Any = None  # a switch: sets this value when given
    append: bool = False
    metavar: str | None = None
    also: tuple[tuple[str, Any], ...] = ()  # further keys (section.name) set whenever this flag is given
    name: str = ""  # the key's name in its section, where it is not the flag's
    section: str = ""  # given by _section; none for a top-level key (seed)

    @property
    def key(self) -> str:
        name = self.name or self.flag[2:].replace("-", "_")
        return f"{self.section}.{name}" if self.section else name


def _section(section: str, *flags: Flag) -> list[Flag]:
    """``flags`` that set keys of configuration section ``section``."""
    return [replace(f, section=section) for f in flags]


def _flags() -> list[Flag]:
    from facescreen.edge.detect import DETECTORS

    from .backbones import BACKBONES
    from .config import CLASS_WEIGHTS, MIXED_PRECISION, MONITORS, XLA
    from .final import FINAL_STRATEGIES
    from .model import INITIAL_WEIGHTS
    from .optimisers import OPTIMISERS
    from .runtime import DISTRIBUTIONS
    from .thresholds import THRESHOLD_RULES

    return [
        *_section(
            "model",
            Flag("--backbone", "backbone network", choices=BACKBONES),
            Flag("--input-size", "aligned face size in pixels (the papers: 224)", int, metavar="PX"),
            Flag(
                "--head-filters",
                "filters of the convolutional head layers, comma separated "
                "(the papers' fully connected layers as 1x1 convolutions; e.g. 512,512)",
                _ints,
                metavar="N,N",
            ),
            Flag("--dropout", "dropout after each head layer (the papers: 0.5)", float),
            Flag(
                "--init",
                "initial backbone weights: imagenet (Keras' file from the local Keras cache or "
                "--weights), vggface (needs --weights: keras_vggface's rcmalli_vggface_tf_notop_vgg16.h5), keras-hub "
                "(needs --weights PRESET_DIR: a KerasHub ResNet/VGG preset saved in a local folder), none",
                choices=INITIAL_WEIGHTS,
            ),
            Flag(
                "--weights",
                "weight file or KerasHub preset folder for --init (never downloaded); "
                "for resnet18/34 with imagenet a .weights.h5 of the same architecture",
                metavar="FILE",
            ),
        ),
        *_section(
            "optimiser",
            Flag("--optimizer", "optimiser (paper-vgg16: rmsprop; paper-wbs: sgd)", choices=OPTIMISERS, name="name"),
            Flag("--lr", "learning rate", float, name="learning_rate"),
            Flag("--momentum", "momentum (sgd, rmsprop)", float),
            Flag("--weight-decay", "decoupled weight decay (0: off)", float),
        ),
        *_section(
            "fit",
            Flag("--batch-size", "global batch size (split across devices when distributed)", int),
            Flag("--class-weight", "weigh classes by inverse frequency (balanced) or not", choices=CLASS_WEIGHTS),
            Flag("--epochs", "maximum number of epochs per training", int),
            Flag(
                "--patience",
                "early stopping: epochs without improvement on validation (0: off; "
                "the best validation epoch is kept either way)",
                int,
            ),
            Flag("--monitor", "what 'best on validation' means", choices=MONITORS),
            Flag(
                "--checkpoint-every",
                "epochs between resume checkpoints of the whole "
                "training state (0: none; an interrupted fold then restarts, finished folds are always kept)",
                int,
            ),
        ),
        *_section(
            "augment",
            Flag("--rotation", "augmentation: random rotation range, +- degrees", float, name="rotation_deg"),
            Flag(
                "--zoom",
                "augmentation: random crop/rescale zoom range LOW,HIGH (e.g. 0.9,1.1)",
                _floats,
                metavar="LOW,HIGH",
                name="scale",
            ),
            Flag("--shift", "augmentation: random shift, fraction of the face size", float),
            Flag("--no-flip", "augmentation: no random horizontal flip", const=False, name="hflip"),
            Flag("--no-augment", "no augmentation at all", const=False, name="enabled"),
            Flag(
                "--randaugment",
                "RandAugment-style policy: operations per image (0: off)",
                int,
                metavar="N",
                name="randaugment_n",
            ),
            Flag("--randaugment-magnitude", "RandAugment magnitude 0..10", int, metavar="M"),
        ),
        *_section(
            "cv",
            Flag("--folds", "number of cross-validation parts (the papers: 5, i.e. 3:1:1)", int, name="n_folds"),
            Flag(
                "--group-by-subject",
                "allow several photos per subject_id, keeping each "
                "subject's photos in one part (the papers use one photo per child)",
                const=True,
            ),
            Flag(
                "--no-syndrome-strata",
                "stratify folds by class only, not by syndrome",
                const=False,
                name="stratify_by_syndrome",
            ),
            Flag(
                "--shuffle-labels",
                "negative control: permute the labels across subjects (the result should stay at chance)",
                const=True,
            ),
        ),
        Flag("--seed", "random seed (splits, initialisation, augmentation, bootstrap)", int),
        *_section(
            "threshold",
            Flag(
                "--threshold",
                "how the screening threshold is chosen on each validation split",
                choices=THRESHOLD_RULES,
                name="rule",
            ),
            Flag("--threshold-value", "the threshold of --threshold fixed", float, name="value"),
        ),
        *_section(
            "evaluation",
            Flag("--bootstrap", "bootstrap resamples of the ROC band (>= 200; pROC: 2000)", int),
            Flag("--explain-faces", "test faces per fold in the heat-map panels (0: none)", int),
            Flag("--explain", "heat maps to draw, comma separated: cam, gradcam", _words, metavar="cam,gradcam"),
        ),
        *_section(
            "data",
            Flag(
                "--negative-class",
                "the unaffected class label (repeatable); default: the one of control/healthy/normal/unaffected",
                append=True,
                metavar="LABEL",
                name="negative_classes",
            ),
            Flag("--detector", "face detector for alignment", choices=DETECTORS),
            Flag("--detector-bundle", "bundle whose converted detector --detector mtcnn-lite uses", metavar="BUNDLE"),
            Flag("--min-face-confidence", "faces below this detector confidence are ignored", float),
            Flag(
                "--reject-multiple-faces",
                "leave out photos with several confident "
                "faces (default: keep them, align the largest face, and list them in alignment_issues.csv)",
                const=True,
            ),
            Flag(
                "--align-cache",
                "folder of the aligned-face cache, to share it between runs "
                "(default: RUN_DIR/align-cache; the cache holds face crops, keep it where the photos may be)",
                metavar="DIR",
                name="cache_dir",
            ),
            Flag(
                "--notice",
                "a notice printed wherever results appear (e.g. that the data are synthetic)",
                metavar="TEXT",
            ),
        ),
        *_section(
            "runtime",
            Flag("--mixed-precision", "mixed precision training", choices=MIXED_PRECISION),
            Flag("--xla", "XLA compilation (auto: Keras' choice, on for GPUs; always on under JAX)", choices=XLA),
            Flag(
                "--distribute",
                "multi-device training: mirrored (TensorFlow, local GPUs), "
                "multi-worker (TensorFlow, hosts from TF_CONFIG), data-parallel (KERAS_BACKEND=jax)",
                choices=DISTRIBUTIONS,
            ),
            Flag("--workers", "data pipeline worker threads", int),
        ),
        *_section(
            "final",
            Flag(
                "--final",
                "the shipped model: refit (all parts but one, validated on the other), "
                "all (every photo, the folds' median best epoch), none",
                choices=FINAL_STRATEGIES,
                name="strategy",
            ),
            Flag("--model-id", "model id in the bundle's model card", metavar="ID"),
            Flag("--intended-use", "intended-use statement in the model card", metavar="TEXT"),
        ),
    ]


# --- evaluation, calibration and observability flags (issue 13), kept apart from the rest --------------
def _evaluation_flags() -> list[Flag]:
    return [
        *_section(
            "threshold",
            Flag(
                "--target-sensitivity",
                "choose each threshold as the highest one whose validation "
                "sensitivity reaches this (a screening policy, e.g. 0.90)",
                float,
                also=(("threshold.rule", "sensitivity"),),
                name="target",
            ),
            Flag(
                "--target-specificity",
                "choose each threshold as the lowest one whose validation specificity reaches this",
                float,
                also=(("threshold.rule", "specificity"),),
                name="target",
            ),
        ),
        *_section(
            "evaluation",
            Flag(
                "--temperature-scaling",
                "fit a temperature on each validation split (and the final model's); "
                "the bundle carries it and every runtime applies it (edge Screener, tablet app)",
                const=True,
            ),
            Flag(
                "--fixed-specificity",
                "report the sensitivity at this specificity, with its bootstrap interval (default 0.90)",
                float,
            ),
            Flag(
                "--subgroup",
                "also report per group of this manifest column (repeatable; age "
                "band, sex and syndrome are always reported)",
                append=True,
                metavar="COL",
                name="subgroups",
            ),
            Flag(
                "--min-subgroup",
                "subgroups with fewer positives or negatives are marked too small to judge (default 10)",
                int,
            ),
            Flag(
                "--age-bands",
                "age band edges in months for the subgroup report, comma separated (default 0,24,48,72,144)",
                _floats,
                metavar="M,M,...",
            ),
            Flag(
                "--prevalence",
                "the prevalence of syndromic children where the screen will be used (e.g. 0.02), comma "
                "separated for several settings: PPV and NPV are reported there",
                _floats,
                metavar="P,P,...",
            ),
            Flag("--conf-level", "the level of every interval in the report and model card (default 0.95)", float),
            Flag("--calibration-bins", "equal-width bins of the reliability diagram and the ECE (default 10)", int),
        ),
        *_section(
            "fit",
            Flag("--tensorboard", "write TensorBoard logs (RUN_DIR/folds/*/tensorboard)", const=True),
        ),
    ]


def _check_evaluation_flags(args: argparse.Namespace) -> None:
    from .config import ConfigError  # lazily, like every training import here: --help stays light

    targets = [f for f in ("target_sensitivity", "target_specificity") if getattr(args, f, None) is not None]
    if len(targets) > 1:
        raise ConfigError("give --target-sensitivity or --target-specificity, not both")
    if targets and args.threshold__rule is not None:
        raise ConfigError(
            "--threshold and --target-sensitivity/--target-specificity both choose the threshold rule; give one of them"
        )


def _dest(f: Flag) -> str:
    """A flag that sets further keys has its own destination (two such flags may share a key)."""
    return f.flag[2:].replace("-", "_") if f.also else f.key.replace(".", "__")


# ---------------------------------------------------------------------------------------------------------


def _add_config_flags(p: argparse.ArgumentParser, flags: list[Flag]) -> None:
    from .presets import PRESETS

    g = p.add_argument_group("configuration (each flag overrides one key of the saved config.yaml)")
    g.add_argument(
        "--preset",
        choices=PRESETS,
        default="paper-vgg16",
        help="starting configuration (default: paper-vgg16; see training/presets.py)",
    )
    g.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="FILE",
        help="YAML configuration file(s), applied over the preset (repeatable)",
    )
    g.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="set_",
        help="set any configuration key, e.g. --set optimiser.momentum=0.9 (value read as YAML; repeatable)",
    )
    for f in flags:
        kw: dict[str, Any] = {"dest": _dest(f), "default": None, "help": f"{f.help} (config: {f.key})"}
        if f.const is not None:
            kw.update(action="store_const", const=f.const)
        else:
            kw.update(type=f.type or str, metavar=f.metavar or {int: "N", float: "X"}.get(f.type, "VALUE"))
            if f.choices:
                kw.update(choices=f.choices, metavar=None)
            if f.append:
                kw.update(action="append")
        g.add_argument(f.flag, **kw)


def _overrides(args: argparse.Namespace, flags: list[Flag]) -> dict:
    import yaml

    from .config import ConfigError, set_dotted

    d: dict = {}
    for item in args.set_:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        d = set_dotted(d, key.strip(), yaml.safe_load(value))
    for f in flags:
        value = getattr(args, _dest(f))
        if value is not None:
            d = set_dotted(d, f.key, value)
            for key, also in f.also:
                d = set_dotted(d, key, also)
    return d


DATA_HELP = (
    "a folder ROOT/<class>/*.jpg, or a CSV manifest with columns path, subject_id, label "
    "(optional: syndrome, age_months, sex, fold = 1..5)"
)
READERS_HELP = "human readers' calls: reader_id, subject_id or path, call (1/0, yes/no, or a class name)"


def _input_args(
    p: argparse.ArgumentParser, out_help: str, data_help: str = DATA_HELP, readers_help: str = READERS_HELP
) -> None:
    """--data, --out and --readers: cv's, and compare-backbones' (the same photos and readers, backbone by backbone)."""
    p.add_argument("--data", required=True, metavar="DIR_OR_CSV", help=data_help)
    p.add_argument("--out", required=True, metavar="RUN_DIR", help=out_help)
    p.add_argument("--readers", metavar="CSV", help=readers_help)


def build_parser(config_flags: bool = True) -> tuple[argparse.ArgumentParser, list[Flag]]:
    """The parser; without ``config_flags`` the cv/config commands lack their configuration flags
    (enough to answer --help and --version, or to run demo-bundle, without importing Keras)."""
    flags = _flags() + _evaluation_flags() if config_flags else []
    parser, sub = clikit.new_command_parser(PROG, __doc__)
    cv = clikit.add_subcommand(
        sub,
        "cv",
        help="cross-validate on your photos (the papers' protocol) and write a bundle",
        description="5-fold cross-validation (train:validation:test = 3:1:1 rotating), threshold "
        "on validation only, metrics as mean +- SD, pooled ROC with a bootstrap band, "
        "readers' comparison, CAM/Grad-CAM panels, and the final model as a bundle.",
    )
    _input_args(cv, "run directory to create (or to --resume)")
    cv.add_argument(
        "--resume", action="store_true", help="continue an interrupted run in RUN_DIR (same config and data)"
    )
    cv.add_argument("--no-progress", action="store_true", help="no progress bar while aligning")
    cv.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="RUN_DIR",
        help="another finished run on the same photos: DeLong's test of the two pooled AUCs in the report (repeatable)",
    )
    if config_flags:
        _add_config_flags(cv, flags)
    compare = clikit.add_subcommand(
        sub,
        "compare-backbones",
        help="the Williams-Beuren paper's comparison: cross-validate each backbone on the same folds",
        description="Runs `cv` once per backbone into RUN_DIR/<backbone>/ (same parts, same settings) and "
        "writes RUN_DIR/backbones.md (test metrics as mean +- SD, the validation AUC that alone may "
        "choose a backbone) and RUN_DIR/roc_backbones.png. See docs/papers.md.",
    )
    _input_args(compare, "a new directory for the comparison", data_help="as for cv", readers_help="as for cv")
    compare.add_argument("--no-progress", action="store_true", help="no progress bar while aligning")
    compare.add_argument(
        "--backbones",
        type=_backbone_names,
        metavar="NAME,NAME,...",
        help="comma separated (default: the paper's vgg16,vgg19,resnet18,resnet34,mobilenet_v2)",
    )
    if config_flags:
        _add_config_flags(compare, flags)
    show = clikit.add_subcommand(
        sub, "config", help="print the resolved configuration as YAML (preset + files + flags)"
    )
    if config_flags:
        _add_config_flags(show, flags)
    demo = clikit.add_subcommand(
        sub, "demo-bundle", help="build (once, cached) the demo bundle from the SYNTHETIC cohort"
    )
    demo.add_argument("--cache", default=".cache", help="cache directory (default: .cache)")
    demo.add_argument("--force", action="store_true", help="rebuild even if cached")
    bench = clikit.add_subcommand(
        sub,
        "bench-bundle",
        help="build (once, cached) the VGG-16 @ 224 benchmark bundle "
        "(random conv base + head fitted on the SYNTHETIC cohort; for latency only)",
    )
    bench.add_argument("--cache", default=".cache", help="cache directory (default: .cache)")
    bench.add_argument("--force", action="store_true", help="rebuild even if cached")
    return parser, flags


def _cv(args: argparse.Namespace, cfg) -> int:
    from facescreen.edge.detect import create_detector

    from .experiment import prepare_data, run_experiment
    from .rundir import ALIGN_CACHE, check_run_dir
    from .runtime import device_line, device_report, distribution_scope, n_replicas
    from .weights import find_weights_file

    check_run_dir(args.out, cfg, args.resume)  # an existing run is refused before anything is aligned
    devices = device_report(cfg.runtime.mixed_precision)
    print(device_line(devices), flush=True)
    if devices["warning"]:
        print(f"WARNING: {devices['warning']}", file=sys.stderr, flush=True)
    find_weights_file(cfg.model.model_config(("a", "b"), ("b",)), cfg.model.weights)  # fail before the long part
    detector = create_detector(cfg.data.detector, cfg.data.detector_bundle)  # e.g. mtcnn-lite without its bundle
    if cfg.fit.tensorboard:
        from .fit import check_tensorboard

        check_tensorboard()
    if cfg.runtime.distribute != "none":
        with distribution_scope(cfg.runtime.distribute):  # checks the backend; TensorFlow wants its strategy early
            print(f"distribution {cfg.runtime.distribute}: {n_replicas(cfg.runtime.distribute)} replica(s)", flush=True)
    cache = Path(cfg.data.cache_dir) if cfg.data.cache_dir else Path(args.out) / ALIGN_CACHE
    data, aligned, text = prepare_data(args.data, cfg, cache, progress=not args.no_progress, detector=detector)
    result = run_experiment(
        data,
        cfg,
        args.out,
        readers_csv=args.readers,
        resume=args.resume,
        aligned=aligned,
        cohort_text=text,
        source=str(args.data),
        compare=args.compare,
    )
    print()
    if data.notice:
        print(data.notice)
    print(result.table)
    auc, cl = result.summary["auc"], result.band.conf_level
    print(
        f"\ntest AUC {auc['mean']:.3f} ± {auc['sd']:.3f} over the folds ({cl:.0%} CI {auc['ci'][0]:.3f}-"
        f"{auc['ci'][1]:.3f}); pooled {result.band.auc:.3f} (see report); report: {result.run_dir / 'report.md'}"
    )
    if result.bundle:
        print(f"bundle: {result.bundle}")
    return 0


def _user_errors() -> tuple[type[BaseException], ...]:
    from .config import ConfigError
    from .data.manifest import ManifestError
    from .evaluation import CompareError
    from .readers import ReaderError
    from .rundir import RunDirError
    from .runtime import RuntimeUnavailableError
    from .weights import WeightsError

    return (ConfigError, ManifestError, ReaderError, RunDirError, WeightsError, RuntimeUnavailableError, CompareError)


def _command(argv: list[str]) -> str | None:
    """The sub-command named in ``argv`` (the first word after the global options), if any."""
    words = [a for a in argv if a not in ("-v", "--verbose")]
    return words[0] if words and not words[0].startswith("-") else None


def main(argv: list[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    flags: list[Flag] = []

    def parser() -> argparse.ArgumentParser:  # built inside clikit.run: its flags import Keras
        built, config_flags = build_parser(config_flags=_command(given) in CONFIG_COMMANDS)
        flags.extend(config_flags)
        return built

    return clikit.run(
        PROG, parser, lambda args: _dispatch(args, flags), argv, user_errors=_user_errors, quiet_level=logging.INFO
    )


def _dispatch(args: argparse.Namespace, flags: list[Flag]) -> int:
    if args.command == "demo-bundle":
        from .demo import build_demo_bundle

        print(build_demo_bundle(args.cache, force=args.force))
        return 0
    if args.command == "bench-bundle":
        from .reference import build_bench_bundle

        print(build_bench_bundle(args.cache, force=args.force))
        return 0
    import yaml

    from .config import build_config

    _check_evaluation_flags(args)
    cfg = build_config(args.preset, args.config, _overrides(args, flags))
    if args.command == "config":
        print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
        return 0
    if args.command == "compare-backbones":
        return _compare_backbones(args, cfg)
    return _cv(args, cfg)


def _compare_backbones(args: argparse.Namespace, cfg) -> int:
    from .backbone_comparison import PAPER_BACKBONES, compare_backbones
    from .experiment import prepare_data
    from .rundir import ALIGN_CACHE

    names = tuple(args.backbones or PAPER_BACKBONES)
    if Path(args.out).exists() and any(Path(args.out).iterdir()):
        raise ValueError(f"{args.out} is not empty; give compare-backbones a new directory")
    cache = Path(cfg.data.cache_dir) if cfg.data.cache_dir else Path(args.out) / ALIGN_CACHE
    data, aligned, text = prepare_data(args.data, cfg, cache, progress=not args.no_progress)
    table = compare_backbones(data, cfg, args.out, names, args.readers, aligned, text, str(args.data))
    print(table.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
