"""facescreen.converters: a trained bundle -> TFLite, ONNX and TensorRT artifacts, each checked for
parity with the Keras reference through the edge runtime before it enters the bundle; and the mtcnn
package's networks -> BUNDLE/detector/ for the TensorFlow-free cascade.

Entry points: ``facescreen-convert`` (:mod:`converters.cli`), :func:`converters.convert.convert_bundle`,
the target table :mod:`converters.targets`. Imports TensorFlow only inside the targets that need it.
"""
