"""Engine-inspector "Format/Datatype" strings as TensorRT really emits them, with how many layer
outputs carry each, copied from the engine graphs NVIDIA publishes with trt-engine-explorer
(NVIDIA/TensorRT, commit 768d994b, tools/experimental/trt-engine-explorer/examples/pytorch/resnet/A100/
{fp32,fp16,qat}/*.engine.graph.json: ``IEngineInspector.get_engine_information(LayerInformationFormat.JSON)``
of ResNet-18 engines), plus the bare Myelin form from NVIDIA/TensorRT samples/sampleEditableTimingCache/
README.md and the TensorRT 11 split field from NVIDIA's 10.x -> 11.x IEngineInspector migration guide."""

from __future__ import annotations

# (string, precision it must be classified as)
REAL_STRINGS = [
    ("Row major linear FP32", "fp32"),
    ("Channel major FP32 format", "fp32"),
    ("Channel major FP32 format where channel % 4 == 0", "fp32"),
    ("Four wide channel vectorized row major FP32 format", "fp32"),
    ("Thirty-two wide channel vectorized row major FP32 format", "fp32"),
    ("Row major linear FP16 format", "fp16"),
    ("Channel major FP16 format where channel % 4 == 0", "fp16"),
    ("Channel major FP16 format where channel % 8 == 0", "fp16"),
    ("Channel major FP16 format where channel % 16 == 0", "fp16"),
    ("Two wide channel vectorized row major FP16 format", "fp16"),
    ("Thirty-two wide channel vectorized row major FP16 format", "fp16"),
    ("Row major Int8 format", "int8"),
    ("Four wide channel vectorized row major Int8 format", "int8"),
    ("Thirty-two wide channel vectorized row major Int8 format", "int8"),
    ("Thirty-two wide channel vectorized row major Int8 format.", "int8"),  # TensorRT's developer guide example
    ("Channel major INT8 format where channel % 16 == 0", "int8"),
    ("Row major linear FP32 format (kLINEAR)", "fp32"),  # TensorRT 11 I/O tensor format
    ("Float", "fp32"),  # Myelin layers: bare data type
    ("Half", "fp16"),
    ("Int8", "int8"),
    ("Row major linear BFloat16 format", "bf16"),
    ("Row major linear Int32", "int32"),
    ("Row major linear UInt8 format", "uint8"),
]

# Layer outputs of a typical engine of each kind, drawn from the strings of the published engines.
FP16_ENGINE_OUTPUTS = (
    ["Channel major FP16 format where channel % 8 == 0"] * 19
    + ["Channel major FP16 format where channel % 16 == 0"] * 17
    + ["Row major linear FP16 format"] * 2
    + ["Row major linear FP32"] * 1
)
QAT_ENGINE_OUTPUTS = (
    ["Thirty-two wide channel vectorized row major Int8 format"] * 18
    + ["Thirty-two wide channel vectorized row major FP16 format"] * 15
    + ["Two wide channel vectorized row major FP16 format"] * 2
    + ["Four wide channel vectorized row major Int8 format"] * 2
    + ["Row major linear FP32"] * 4
)
FP32_ENGINE_OUTPUTS = ["Channel major FP32 format"] * 18 + ["Row major linear FP32"] * 4


def engine_information(outputs: list[str], split_field: bool = False) -> dict:
    """An inspector JSON document with one layer per output string (TensorRT 8.6/10 shape, or 11's)."""
    key = "Datatype" if split_field else "Format/Datatype"
    layers = []
    for i, text in enumerate(outputs):
        layers.append(
            {
                "Name": f"layer{i}",
                "LayerType": "CaskConvolution",
                "Inputs": [{"Name": f"t{i}", "Dimensions": [8, 64, 56, 56], key: text}],
                "Outputs": [{"Name": f"t{i + 1}", "Dimensions": [8, 64, 56, 56], key: text}],
            }
        )
    doc = {"Layers": layers}
    doc["I/O Tensors" if split_field else "Bindings"] = (
        [{"Name": "image", "IOMode": "Input", "DataType": "Float"}] if split_field else ["image", "probs", "cam"]
    )
    return doc
