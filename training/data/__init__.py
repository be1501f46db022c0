"""Data in: the photo manifest, the alignment cache, augmentation and the Keras data pipeline."""
