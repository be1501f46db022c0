"""The tablet's face mesh is converted at export from the pinned asset; a file that is not a TFLite
face mesh stops the export with the converter's reason (no app without its mesh)."""

from __future__ import annotations

import pytest
import tf_free


def test_a_broken_mesh_source_stops_the_export(tmp_path):
    from facescreen.kiosk.tablet.export import TabletExportError, convert_mesh

    bad = tmp_path / "face_landmark.tflite"
    bad.write_bytes(b"not a flatbuffer")
    with pytest.raises(TabletExportError, match="converting the face mesh .* to ONNX failed"):
        convert_mesh(tmp_path / "app" / "model" / "face_landmark.onnx", source=bad)
    assert not (tmp_path / "app" / "model" / "face_landmark.onnx").exists()


@tf_free.requires_tensorflow  # tf2onnx reads the .tflite through TensorFlow (at export, on a workstation)
def test_the_pinned_mesh_converts_and_is_recorded(tmp_path):
    from facescreen.edge.assets import FACE_LANDMARK, asset_path
    from facescreen.edge.bundle import sha256_file
    from facescreen.kiosk.tablet.export import MESH_FILE, convert_mesh

    src = asset_path(FACE_LANDMARK.name)
    rec = convert_mesh(tmp_path / MESH_FILE)
    assert rec["file"] == MESH_FILE and rec["source"] == FACE_LANDMARK.name and rec["source_sha256"] == sha256_file(src)
    import onnx

    model = onnx.load(str(tmp_path / MESH_FILE))
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 192, 192, 3] and len(model.graph.output) == 2
