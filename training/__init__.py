"""facescreen.training: the VGG-16 screener, the papers' cross-validated protocol, bundles."""
