"""The Keras reference a bundle's conversions start from, exported once per run."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from facescreen.edge.bundle import Bundle

from .errors import ConversionError

OUTPUT_NAMES = ("probs", "cam")  # the Keras model's dict outputs, in the order every artifact keeps


def reference_artifact(bundle: Bundle) -> str:
    """The bundle's Keras artifact (training writes it as ``keras``)."""
    keras_arts = bundle.artifacts_of("keras")
    if "keras" in keras_arts:
        return "keras"
    if len(keras_arts) == 1:
        return keras_arts[0]
    raise ConversionError(
        f"bundle {bundle.path} needs exactly one Keras reference artifact to convert from; "
        f"it has {keras_arts or 'none'}"
    )


class KerasSource:
    """Loads the reference model lazily and writes its SavedModel once (into ``workdir``)."""

    def __init__(self, bundle: Bundle, workdir: Path) -> None:
        self.bundle = bundle
        self.workdir = Path(workdir)
        self.size = bundle.card.input.size

    @cached_property
    def artifact(self) -> str:
        return reference_artifact(self.bundle)

    @cached_property
    def model(self):
        import keras

        return keras.saving.load_model(str(self.bundle.artifact_path(self.artifact)), compile=False)

    @property
    def input_shape(self) -> list[int | None]:
        return [None, self.size, self.size, 3]

    @property
    def serve(self):
        """The inference function every format is exported from: dict outputs probs and cam.

        The model is loaded HERE, eagerly: loaded for the first time inside a tf.function trace, its
        weights would become graph-initialiser assignments that exporters freeze as the initial
        (random) values."""
        model = self.model

        def serve(image):
            out = model(image, training=False)
            missing = [k for k in OUTPUT_NAMES if k not in out]
            if missing:
                raise ConversionError(f"the Keras model must return a dict with {OUTPUT_NAMES}; it lacks {missing}")
            return {k: out[k] for k in OUTPUT_NAMES}

        return serve

    @cached_property
    def saved_model(self) -> Path:
        from .tf_export import write_saved_model

        return write_saved_model(self.model, self.serve, self.input_shape, self.workdir / "screener_savedmodel")

    def versions(self) -> dict:
        import keras
        import tensorflow as tf

        return {"tensorflow": tf.__version__, "keras": keras.__version__}
