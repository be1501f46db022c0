"""MTCNN without TensorFlow: the mtcnn package's three networks, converted, under LiteRT or ONNX Runtime.

The cascade is the package's (P-Net over an image pyramid -> NMS -> R-Net on 24x24 crops -> NMS ->
O-Net on 48x48 crops with landmarks -> NMS), with its numpy arithmetic mirrored in
:mod:`edge.detectors.mtcnn_cascade`. What makes it faster than the package: no TensorFlow eager
dispatch, one batched call for all R-Net crops and one for all O-Net crops, vectorised NMS,
network runtimes built once per input shape and reused (see :mod:`edge.detectors.mtcnn_nets`), and
the image pyramid resized on a helper thread while P-Net runs on the scales already resized.
One detector serves one thread at a time (its interpreters are not re-entrant).

    det = MtcnnLiteDetector(model_dir="BUNDLE/detector")        # runtime="auto"
    faces = det.detect(rgb)                                      # list[FaceDetection]
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..backends import backend_spec
from ..backends.base import inference_threads
from ..detect import FaceDetection
from ..errors import BackendUnavailableError, BundleError
from . import mtcnn_cascade as mc
from .mtcnn_manifest import load_manifest
from .mtcnn_nets import NET_RUNNERS, RUNTIME_FORMAT, NetRunner

# "auto" order: measured fastest first on a 2-core x86 CPU (see README.md, "Converting a bundle").
AUTO_RUNTIMES = ("litert", "onnxruntime")


def _installed(runtime: str) -> bool:
    """The networks' runtimes are the screener's backends of the same name: one availability rule."""
    return backend_spec(runtime).available()


class MtcnnLiteDetector:
    """Satisfies :class:`edge.detect.Detector`: ``detect(rgb)`` returns faces in that image's pixels,
    landmarks ordered left_eye, right_eye, nose, mouth_left, mouth_right (the package's keypoints)."""

    name = "mtcnn-lite"

    def __init__(
        self,
        model_dir: str | Path,
        runtime: str = "auto",
        threads: int | None = None,
        config: mc.CascadeConfig | None = None,
        min_face_size: int | None = None,
        verify: bool = True,
    ) -> None:
        self.model_dir = Path(model_dir)
        manifest = load_manifest(self.model_dir, verify=verify)
        self.runtime_name = self._pick_runtime(runtime, manifest.formats)
        fmt = RUNTIME_FORMAT[self.runtime_name]
        cfg = config or mc.CascadeConfig()
        if min_face_size is not None:
            cfg = replace(cfg, min_face_size=min_face_size)
        self.config = cfg
        threads = inference_threads(threads)
        factory = NET_RUNNERS.get(self.runtime_name)
        self._nets: dict[str, NetRunner] = {
            net: factory(self.model_dir / nf.file, net, threads=threads) for net, nf in manifest.formats[fmt].items()
        }
        self.format = fmt
        self.runtime = self._nets["pnet"].runtime
        self._pyramid = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mtcnn-pyramid")

    def close(self) -> None:
        self._pyramid.shutdown(wait=False)

    @staticmethod
    def _pick_runtime(runtime: str, formats: dict) -> str:
        if runtime != "auto":
            if runtime not in RUNTIME_FORMAT:
                raise ValueError(
                    f"unknown MTCNN runtime {runtime!r}; expected 'auto' or one of {sorted(RUNTIME_FORMAT)}"
                )
            if RUNTIME_FORMAT[runtime] not in formats:
                raise BundleError(
                    f"the detector has no {RUNTIME_FORMAT[runtime]} networks for runtime {runtime!r}; "
                    f"it has: {sorted(formats)}"
                )
            if not _installed(runtime):
                raise BackendUnavailableError(
                    f"MTCNN runtime {runtime!r} is not installed (pip install 'facescreen[edge]')"
                )
            return runtime
        reasons = []
        for name in AUTO_RUNTIMES:
            if RUNTIME_FORMAT[name] not in formats:
                reasons.append(f"{name}: no {RUNTIME_FORMAT[name]} networks")
            elif not _installed(name):
                reasons.append(f"{name}: not installed")
            else:
                return name
        raise BackendUnavailableError("no runtime for the converted MTCNN: " + "; ".join(reasons))

    # -- the cascade -------------------------------------------------------------------------

    def detect(self, rgb: np.ndarray, min_face_size: int | None = None) -> list[FaceDetection]:
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
        height, width = rgb.shape[:2]
        image = mc.normalise(rgb)
        cfg = self.config if min_face_size is None else replace(self.config, min_face_size=int(min_face_size))
        boxes = self._stage_pnet(image, cfg)
        if len(boxes):
            boxes = self._stage_rnet(image, boxes)
        if not len(boxes):
            return []
        boxes, scores, landmarks = self._stage_onet(image, boxes)
        boxes = mc.fit_to_image(boxes, height, width)
        if self.config.whole_pixels:
            boxes, landmarks = mc.whole_pixels(boxes, landmarks)
        return [FaceDetection(tuple(b), float(np.clip(s, 0.0, 1.0)), lm) for b, s, lm in zip(boxes, scores, landmarks)]

    def _stage_pnet(self, image: np.ndarray, cfg: mc.CascadeConfig) -> np.ndarray:
        """``StagePNet``: proposals at every pyramid scale, NMS per scale, then across scales.
        The pyramid starts at ``12 / min_face_size``: a larger smallest face drops its largest levels."""
        height, width = image.shape[:2]
        levels = [(s, mc.scaled_shape(height, width, s)) for s in mc.scale_pyramid(height, width, cfg)]
        # P-Net's 12x12 window must fit; the resizes run ahead on the helper thread (OpenCV and the
        # runtimes release the GIL), so resizing scale k+1 overlaps P-Net on scale k
        pending = [
            (s, self._pyramid.submit(mc.resize_area, image, shape)) for s, shape in levels if min(shape) >= mc.PNET_CELL
        ]
        all_boxes, all_scores = [], []
        for scale, resized in pending:
            out = self._nets["pnet"].run(resized.result()[None])
            boxes, scores = mc.pnet_boxes(out["bbox_reg"][0], out["face_prob"][0, :, :, 1], cfg.threshold_pnet, scale)
            if len(boxes):
                boxes, scores, _ = mc.nms(boxes, scores, cfg.nms_pnet1, "union", initial_sort=False)
                all_boxes.append(boxes)
                all_scores.append(scores)
        if not all_boxes:
            return np.empty((0, 4))
        boxes, _, _ = mc.nms(np.concatenate(all_boxes), np.concatenate(all_scores), cfg.nms_pnet2, "union")
        return mc.to_square(boxes)

    def _stage_rnet(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """``StageRNet``: one batched call over all crops, refine, threshold, NMS, square."""
        cfg = self.config
        out = self._nets["rnet"].run(mc.crop_and_resize(image, boxes, 24))
        scores = out["face_prob"][:, 1].astype(np.float64)
        boxes = mc.apply_offsets(boxes, out["bbox_reg"])
        keep = scores > cfg.threshold_rnet
        if not keep.any():
            return np.empty((0, 4))
        boxes, _, _ = mc.nms(boxes[keep], scores[keep], cfg.nms_rnet, "union")
        return mc.to_square(boxes)

    def _stage_onet(self, image: np.ndarray, boxes: np.ndarray):
        """``StageONet``: landmarks relative to the input boxes, refine, threshold, NMS ("min")."""
        cfg = self.config
        out = self._nets["onet"].run(mc.crop_and_resize(image, boxes, 48))
        landmarks = mc.place_landmarks(out["landmarks"], boxes)
        scores = out["face_prob"][:, 1].astype(np.float64)
        boxes = mc.apply_offsets(boxes, out["bbox_reg"])
        keep = scores > cfg.threshold_onet
        if not keep.any():
            return np.empty((0, 4)), np.empty((0,)), np.empty((0, 5, 2))
        return mc.nms(boxes[keep], scores[keep], cfg.nms_onet, "min", extra=landmarks[keep])
