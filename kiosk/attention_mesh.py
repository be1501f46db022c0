"""MediaPipe's attention face mesh (``face_landmark_with_attention.tflite``) on plain LiteRT.

The model refines the 468-point mesh with separate sub-networks for the lips and each eye (plus
five iris points per eye). Those sub-networks read crops of an early feature map taken by three
MediaPipe custom ops (``Landmarks2TransformMatrix``, ``TransformTensorBilinear``,
``TransformLandmarks``) that stock LiteRT does not have. So the graph is cut at those ops into two
builtin-only models, run in turn, and the three ops are computed here in NumPy between them,
following MediaPipe's kernels (``mediapipe/util/tflite/operations/*.cc``, v2). The refined points
replace the mesh points listed in MediaPipe's ``tensors_to_face_landmarks_with_attention.pbtxt``.
Everything stays in the model's 192x192 crop pixels; :mod:`kiosk.landmarks` maps it to the frame.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from facescreen.edge.tflite import tflite_runtime, tflite_schema

# fmt: off
# MediaPipe's LandmarksRefinementCalculator tables: which mesh index each refined point replaces.
LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409,
        78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415,
        76, 77, 90, 180, 85, 16, 315, 404, 320, 307, 306, 184, 74, 73, 72, 11, 302, 303, 304, 408,
        62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292, 183, 42, 41, 38, 12, 268, 271, 272, 407)
LEFT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173,
            130, 25, 110, 24, 23, 22, 26, 112, 243, 247, 30, 29, 27, 28, 56, 190,
            226, 31, 228, 229, 230, 231, 232, 233, 244, 113, 225, 224, 223, 222, 221, 189,
            35, 124, 46, 53, 52, 65, 143, 111, 117, 118, 119, 120, 121, 128, 245,
            156, 70, 63, 105, 66, 107, 55, 193)
RIGHT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398,
             359, 255, 339, 254, 253, 252, 256, 341, 463, 467, 260, 259, 257, 258, 286, 414,
             446, 261, 448, 449, 450, 451, 452, 453, 464, 342, 445, 444, 443, 442, 441, 413,
             265, 353, 276, 283, 282, 295, 372, 340, 346, 347, 348, 349, 350, 357, 465,
             383, 300, 293, 334, 296, 336, 285, 417)
# fmt: on
N_MESH, N_POINTS = 468, 478
# model output -> (mesh indices it replaces, the eye contour whose mean depth an iris takes, or None)
REFINEMENTS = {
    "output_lips": (LIPS, None),
    "output_left_eye": (LEFT_EYE, None),
    "output_right_eye": (RIGHT_EYE, None),
    "output_left_iris": (tuple(range(468, 473)), LEFT_EYE[:16]),
    "output_right_iris": (tuple(range(473, 478)), RIGHT_EYE[:16]),
}
_MESH_OUT, _FLAG_OUT = "output_mesh_identity", "conv_faceflag"
_L2TM, _TTB, _TL = "Landmarks2TransformMatrix", "TransformTensorBilinear", "TransformLandmarks"


def is_attention_model(content: bytes) -> bool:
    """True when the .tflite holds MediaPipe's attention-mesh custom ops."""
    m = tflite_schema().Model.GetRootAsModel(content, 0)
    return any(m.OperatorCodes(i).CustomCode() == _L2TM.encode() for i in range(m.OperatorCodesLength()))


@dataclass(frozen=True)
class _Crop:
    """One attention branch: its matrix op's input/output tensors, options and the crop tensor."""

    landmarks: int
    matrix: int
    options: dict
    crop: int
    size: tuple[int, int]


class AttentionMesh:
    """Runs the attention mesh on a (1, 192, 192, 3) float crop; returns 478 (x, y, z) points in
    crop pixels and the face-flag logit. Not re-entrant: the caller serialises calls."""

    # Its depth (z) reads the head about 4.6 degrees more chin-down than the 468-point mesh does
    # (mean over the two sample photos and three good replay frames: -5.1/-6.6/-4.5/-4.8 vs
    # -9.9/-9.3/-8.9/-10.0); added back so pitch means the same whichever model runs.
    pitch_bias_deg = 4.6

    def __init__(self, content: bytes, threads: int) -> None:
        from flatbuffers import flexbuffers

        schema, Interpreter = tflite_schema(), tflite_runtime().Interpreter
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(content, 0))
        graph = model.subgraphs[0]
        names = {t.name.decode(): i for i, t in enumerate(graph.tensors)}
        kind = [model.operatorCodes[op.opcodeIndex].customCode for op in graph.operators]
        kind = [k.decode() if k else None for k in kind]
        missing = [n for n in (_MESH_OUT, _FLAG_OUT, *REFINEMENTS) if n not in names]
        if missing:
            raise ValueError(f"not MediaPipe's attention face mesh: tensors {missing} are missing")
        ops = {k: [op for op, kk in zip(graph.operators, kind) if kk == k] for k in (_L2TM, _TTB, _TL)}
        crop_of = {int(op.inputs[1]): op for op in ops[_TTB]}
        self._crops = []
        for op in ops[_L2TM]:
            opts = flexbuffers.Loads(bytes(op.customOptions))
            ttb = crop_of[int(op.outputs[0])]
            tto = flexbuffers.Loads(bytes(ttb.customOptions))
            self._crops.append(
                _Crop(
                    int(op.inputs[0]),
                    int(op.outputs[0]),
                    opts,
                    int(ttb.outputs[0]),
                    (tto["output_height"], tto["output_width"]),
                )
            )
        features = {int(op.inputs[0]) for op in ops[_TTB]}
        if len(features) != 1:
            raise ValueError(f"expected one feature map under the attention crops, found {len(features)}")
        self._features = features.pop()
        # each refined output: RESHAPE(TransformLandmarks(points, matrix))
        producer = {int(o): op for op in graph.operators for o in op.outputs}
        self._refine = {}
        for out in REFINEMENTS:
            tl = producer[int(producer[names[out]].inputs[0])]
            self._refine[out] = (int(tl.inputs[0]), int(tl.inputs[1]))
        tables = {self._crop_table(c) for c in self._crops}
        if tables != {LIPS, LEFT_EYE, RIGHT_EYE}:
            raise ValueError("the attention crops do not cover MediaPipe's lips/eye refinement tables")

        stage_a_out = [names[_MESH_OUT], names[_FLAG_OUT], self._features] + [c.landmarks for c in self._crops]
        stage_b_in = [c.crop for c in self._crops] + [c.matrix for c in self._crops]
        stage_b_out = sorted({t for pair in self._refine.values() for t in pair})
        self._a = _interpreter(model, list(graph.inputs), stage_a_out, kind, threads, Interpreter)
        self._b = _interpreter(model, stage_b_in, stage_b_out, kind, threads, Interpreter)
        self._mesh, self._flag, self._input = names[_MESH_OUT], names[_FLAG_OUT], int(graph.inputs[0])
        self.input_shape = tuple(int(d) for d in self._a.get_input_details()[0]["shape"])

    @staticmethod
    def _crop_table(c: _Crop) -> tuple[int, ...]:
        return tuple(int(i) for i in c.options["subset_idxs"])

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        a = _invoke(self._a, {self._input: x})
        feeds = {}
        for c in self._crops:
            m = landmarks_to_transform_matrix(a[c.landmarks], c.options)
            feeds[c.matrix] = m
            feeds[c.crop] = transform_tensor_bilinear(a[self._features], m, c.size)
        b = _invoke(self._b, feeds)
        pts = np.zeros((N_POINTS, 3))
        pts[:N_MESH] = a[self._mesh].reshape(N_MESH, 3)
        for out, (idx, depth_from) in REFINEMENTS.items():
            points, matrix = self._refine[out]
            idx = list(idx)
            pts[idx, :2] = transform_landmarks(b[points], b[matrix])
            if depth_from is not None:
                pts[idx, 2] = pts[list(depth_from), 2].mean()
        return pts, float(a[self._flag].ravel()[0])


def _interpreter(model, inputs: list[int], outputs: list[int], kind: list, threads, Interpreter):
    """A builtin-only copy of the graph from ``inputs`` to ``outputs`` (the ops they need, in order)."""
    import flatbuffers

    graph = model.subgraphs[0]
    producer = {int(o): i for i, op in enumerate(graph.operators) for o in op.outputs}
    keep, seen, stack = set(), set(inputs), list(outputs)
    while stack:
        t = stack.pop()
        if t in seen or t not in producer:
            continue
        seen.add(t)
        i = producer[t]
        if kind[i] is not None:
            raise ValueError(f"cutting the attention mesh: {graph.tensors[t].name.decode()} needs custom op {kind[i]}")
        keep.add(i)
        stack.extend(int(x) for x in graph.operators[i].inputs if x >= 0)
    part, sub = copy.copy(model), copy.copy(graph)
    sub.operators = [op for i, op in enumerate(graph.operators) if i in keep]
    sub.inputs, sub.outputs = list(inputs), list(outputs)
    part.subgraphs, part.signatureDefs = [sub], None
    builder = flatbuffers.Builder(1 << 22)
    builder.Finish(part.Pack(builder), file_identifier=b"TFL3")
    interp = Interpreter(model_content=bytes(builder.Output()), num_threads=threads)
    interp.allocate_tensors()
    return interp


def _invoke(interp, feeds: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], np.asarray(feeds[d["index"]], np.float32))
    interp.invoke()
    return {d["index"]: interp.get_tensor(d["index"]) for d in interp.get_output_details()}


def _rotation(r: float) -> np.ndarray:
    return np.array([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]])


def landmarks_to_transform_matrix(landmarks: np.ndarray, o: dict) -> np.ndarray:
    """Landmarks2TransformMatrix v2: a (1, 4, 4) matrix from crop-grid pixels to feature-map
    pixels, for a box around ``subset_idxs`` levelled by the two rotation landmarks."""
    lm = np.asarray(landmarks, np.float64).reshape(-1, 3)[:, :2]
    left, right = lm[o["left_rotation_idx"]], lm[o["right_rotation_idx"]]
    rot = o["target_rotation_radians"] - np.arctan2(right[1] - left[1], right[0] - left[0])
    r = _rotation(rot)
    turned = lm[list(o["subset_idxs"])] @ r.T
    hi, lo = turned.max(0), turned.min(0)
    width, height = hi - lo
    t = np.eye(4)
    t[:2, 3] = r.T @ ((hi + lo) / 2)
    t[:2, :2] = _rotation(-rot)
    t = t @ np.diag([o["scale_x"] * width / o["output_width"], o["scale_y"] * height / o["output_height"], 1, 1])
    shift = np.eye(4)
    shift[:2, 3] = [-o["output_width"] / 2.0, -o["output_height"] / 2.0]
    return (t @ shift)[None].astype(np.float32)


def transform_tensor_bilinear(features: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """TransformTensorBilinear v2: sample ``features`` (1, H, W, C) on the matrix's grid, pixel
    centres aligned, zero outside."""
    f = np.asarray(features, np.float64)[0]
    h, w = f.shape[:2]
    m = np.asarray(matrix, np.float64)[0, :2].copy()
    m[:, 3] += m[:, 0] * 0.5 + m[:, 1] * 0.5 - 0.5
    oy, ox = np.mgrid[0 : size[0], 0 : size[1]].astype(np.float64)
    tx, ty = m[0, 0] * ox + m[0, 1] * oy + m[0, 3], m[1, 0] * ox + m[1, 1] * oy + m[1, 3]
    x0, y0 = np.floor(tx).astype(int), np.floor(ty).astype(int)
    fx, fy = (tx - x0)[..., None], (ty - y0)[..., None]

    def at(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        inside = (yy >= 0) & (xx >= 0) & (yy < h) & (xx < w)
        return f[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)] * inside[..., None]

    upper = (1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)
    lower = (1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1)
    out = fy * lower + (1 - fy) * upper
    out[(tx < 0) | (tx > w - 1) | (ty < 0) | (ty > h - 1)] = 0.0
    return out[None].astype(np.float32)


def transform_landmarks(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """TransformLandmarks v2 (2-D): (1, N, 2) points through the matrix's first two rows."""
    p = np.asarray(points, np.float64)[0]
    m = np.asarray(matrix, np.float64)[0]
    return p @ m[:2, :2].T + m[:2, 3]
