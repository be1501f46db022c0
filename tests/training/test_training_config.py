"""Presets, YAML files and flags build one validated configuration; the CLI documents every flag."""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from factories import cv_argv

from facescreen.training.cli import build_parser, main
from facescreen.training.config import ConfigError, TrainConfig, build_config
from facescreen.training.presets import PRESETS


@pytest.mark.parametrize("name", PRESETS.names())
def test_every_preset_is_a_valid_configuration_that_round_trips(tmp_path, name):
    cfg = build_config(name)
    assert cfg.preset == name
    saved = cfg.to_yaml(tmp_path / "config.yaml")
    assert TrainConfig.from_dict(yaml.safe_load(saved.read_text())) == cfg


def test_the_papers_presets():
    vgg = build_config("paper-vgg16")
    assert (vgg.model.backbone, vgg.model.input_size, vgg.model.init) == ("vgg16", 224, "vggface")
    assert vgg.optimiser.name == "rmsprop"
    assert vgg.model.dropout == 0.5 and vgg.augment.hflip and vgg.augment.rotation_deg > 0
    wbs = build_config("paper-wbs")
    assert (wbs.optimiser.name, wbs.optimiser.learning_rate, wbs.fit.batch_size, wbs.fit.epochs) == (
        "sgd",
        0.01,
        16,
        100,
    )
    assert wbs.model.init == "imagenet" and wbs.cv.n_folds == 5


def test_yaml_then_set_then_flags(tmp_path, capsys):
    f = tmp_path / "cfg.yaml"
    f.write_text("fit: {epochs: 7, batch_size: 8}\nmodel: {backbone: resnet34}\n")
    assert (
        main(
            [
                "config",
                "--preset",
                "paper-wbs",
                "--config",
                str(f),
                "--set",
                "fit.epochs=9",
                "--set",
                "optimiser.momentum=0.9",
                "--batch-size",
                "32",
                "--negative-class",
                "healthy",
                "--zoom",
                "0.8,1.2",
                "--no-flip",
            ]
        )
        == 0
    )
    d = yaml.safe_load(capsys.readouterr().out)
    assert d["fit"] == {**d["fit"], "epochs": 9, "batch_size": 32}
    assert d["model"]["backbone"] == "resnet34" and d["optimiser"]["momentum"] == 0.9
    assert d["data"]["negative_classes"] == ["healthy"] and d["augment"]["scale"] == [0.8, 1.2]
    assert d["augment"]["hflip"] is False and d["preset"] == "paper-wbs"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--set", "fit.epoch=3"], "unknown key\\(s\\) fit.epoch; valid keys in fit: batch_size, epochs"),
        (["--set", "colour=red"], "unknown key\\(s\\) colour"),
        (["--epochs", "0"], "fit.epochs must be >= 1"),
        (["--backbone", "resnet18", "--init", "vggface"], "VGG-Face weights exist for vgg16 only"),
        (["--set", "evaluation.bootstrap=100"], "at least 200|>= 200"),
        (["--init", "none", "--weights", "x.h5"], "model.init is 'none'"),
    ],
)
def test_configuration_errors_name_the_key(capsys, argv, message):
    assert main(["config"] + argv) == 2
    import re

    assert re.search(message, capsys.readouterr().err)


def test_a_yaml_file_is_read_as_editors_save_it_or_refused_naming_it(tmp_path):
    f = tmp_path / "cfg.yaml"
    f.write_text("\ufefffit: {epochs: 3}\n", encoding="utf-8")  # Notepad's UTF-8 starts with a byte-order mark
    assert build_config("paper-vgg16", [f]).fit.epochs == 3
    f.write_text("# réglages\nfit: {epochs: 3}\n", encoding="cp1252")
    with pytest.raises(ConfigError, match=r"cfg\.yaml is not UTF-8 text \(byte 0xe9 on line 1\); save it as UTF-8"):
        build_config("paper-vgg16", [f])
    with pytest.raises(ConfigError, match="is a folder; give a YAML config file"):
        build_config("paper-vgg16", [tmp_path])


def test_unknown_yaml_section_is_an_error(tmp_path):
    f = tmp_path / "cfg.yaml"
    f.write_text("trainer: {epochs: 3}\n")
    with pytest.raises(ConfigError, match="unknown key\\(s\\) trainer"):
        build_config("paper-vgg16", [f])


def test_help_documents_every_flag(capsys):
    parser, flags = build_parser()
    with pytest.raises(SystemExit) as exit_:
        main(["cv", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for f in flags:
        assert f.flag in text and f"(config: {f.key})" in text, f.flag
    cv = parser._subparsers._group_actions[0].choices["cv"]
    for action in cv._actions:
        assert action.help, action.option_strings  # no flag without help text
        assert action.option_strings[0] in text


def test_every_config_key_has_a_flag_or_is_one_of_the_set_only_keys():
    _, flags = build_parser()
    cfg = TrainConfig()
    leaves = {"seed"}
    for section in dataclasses.fields(cfg):
        value = getattr(cfg, section.name)
        if dataclasses.is_dataclass(value):
            leaves |= {f"{section.name}.{f.name}" for f in dataclasses.fields(value)}
    assert leaves - {f.key for f in flags} == {"evaluation.top_k"}  # --set KEY=VALUE


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "rcmalli_vggface_tf_notop_vgg16.h5"),  # paper-vgg16 starts from VGG-Face: say which file is missing
        (["--init", "none", "--distribute", "data-parallel"], "KERAS_BACKEND=jax"),
    ],
)
def test_cv_fails_before_the_long_part(tmp_path, capsys, extra, message):
    out = tmp_path / "run"
    assert main(["cv", "--data", str(tmp_path), "--out", str(out), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()  # nothing aligned, no run directory made


@pytest.mark.parametrize("command", ["demo-bundle", "bench-bundle"])
def test_bundle_builders_keep_their_subcommands(command):
    parser, _ = build_parser()
    args = parser.parse_args([command, "--cache", "somewhere", "--force"])
    assert (args.command, args.cache, args.force) == (command, "somewhere", True)


def test_cv_with_the_converted_detector_needs_its_bundle_and_says_so_before_aligning(tmp_path, capsys, detector_dir):
    out = tmp_path / "run"
    assert main(cv_argv(tmp_path, out, "--detector", "mtcnn-lite")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--detector-bundle" in err[0] and not out.exists()
    # with its bundle the detector is built (no TypeError); the empty data folder is what is refused next
    assert main(cv_argv(tmp_path, out, "--detector", "mtcnn-lite", "--detector-bundle", str(detector_dir.parent))) == 2
    err = capsys.readouterr().err
    assert "detector" not in err and "TypeError" not in err and not out.exists()


def test_final_strategies_are_registry_entries_that_say_whether_they_train():
    from facescreen.training.final import FINAL_STRATEGIES, planned_final_epochs

    assert FINAL_STRATEGIES.names() == ["all", "none", "refit"]
    assert [FINAL_STRATEGIES.create(n).trains for n in ("all", "none", "refit")] == [True, False, True]
    cfg = build_config("quick-cpu", overrides={"fit": {"epochs": 7}})
    assert planned_final_epochs(cfg) == 7
    assert (
        planned_final_epochs(build_config("quick-cpu", overrides={"fit": {"epochs": 7}, "final": {"strategy": "none"}}))
        == 0
    )
