"""Detector implementations, imported lazily through :data:`edge.detect.DETECTORS`."""
