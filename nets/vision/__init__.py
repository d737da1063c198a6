"""Vision models: MobileNet, DenseNet, normalisation layers, SSD, segmentation."""
