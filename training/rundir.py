"""The run directory: where a run keeps its configuration, log, checkpoints and results.

A directory that already holds a run is only reused with ``resume``, and then only for the same
configuration and the same data, so two different runs never mix their folds.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import yaml

from .config import TrainConfig

CONFIG_FILE = "config.yaml"
DATA_FILE = "data_fingerprint.json"
LOG_FILE = "run.log"
ALIGN_CACHE = "align-cache"  # the aligned-face cache's default home: inside the run, with its photos' faces
_RESUMABLE_DIFFERENCES = ("runtime",)  # may change between an interrupted run and its resumption


class RunDirError(RuntimeError):
    """The run directory cannot be used for this run; the message says why and what to do."""


def check_run_dir(root: str | Path, cfg: TrainConfig, resume: bool) -> None:
    """What can be known before the data are read: ``root`` is new (or empty, or holds only the
    alignment cache of a run interrupted while aligning), or, with ``resume``, a run of the same
    configuration. Called first, so that a wrong --out never costs an alignment."""
    out = Path(root)
    saved = out / CONFIG_FILE
    if saved.is_file():
        if not resume:
            raise RunDirError(f"{out} already holds a run; pass --resume to continue it, or choose another --out")
        old = yaml.safe_load(saved.read_text())
        new = cfg.to_dict()
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k) and k not in _RESUMABLE_DIFFERENCES)
        if diff:
            raise RunDirError(
                f"cannot resume {out}: the configuration differs in {', '.join(diff)}; "
                "resume with the saved config (--config " + str(saved) + ") or choose another --out"
            )
    elif out.exists() and (not out.is_dir() or any(p.name != ALIGN_CACHE for p in out.iterdir())):
        raise RunDirError(f"{out} exists and is not empty; choose a new --out (a run directory is created by the run)")


def prepare_run_dir(root: str | Path, cfg: TrainConfig, fingerprint: dict, resume: bool) -> Path:
    check_run_dir(root, cfg, resume)
    out = Path(root)
    saved = out / CONFIG_FILE
    if saved.is_file():
        old_fp = json.loads((out / DATA_FILE).read_text()) if (out / DATA_FILE).is_file() else None
        if old_fp is not None and old_fp != fingerprint:
            raise RunDirError(
                f"cannot resume {out}: the data differ from the interrupted run's "
                f"({old_fp.get('n_photos')} photos, digest {old_fp.get('digest', '')[:12]} before; "
                f"{fingerprint.get('n_photos')} photos, digest {fingerprint.get('digest', '')[:12]} now)"
            )
    out.mkdir(parents=True, exist_ok=True)
    cfg.to_yaml(saved)
    (out / DATA_FILE).write_text(json.dumps(fingerprint, indent=2))
    return out


def attach_log(run_dir: Path, level: int = logging.INFO) -> logging.Handler:
    """Send the ``training`` logger to ``run.log`` (appending across resumptions) and the terminal."""
    logger = logging.getLogger("training")
    logger.setLevel(level)
    handler = logging.FileHandler(run_dir / LOG_FILE)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    if not any(
        isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler) for h in logger.handlers
    ):
        console = logging.StreamHandler()
        console.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(console)
        logger.propagate = False
    return handler


def detach_log(handler: logging.Handler) -> None:
    logging.getLogger("training").removeHandler(handler)
    handler.close()
