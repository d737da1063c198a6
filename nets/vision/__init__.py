"""Vision models: MobileNet, DenseNet, normalisation layers, SSD, segmentation.

Start reading at `normalization.py` (the four normalisers from their formulas), then `mobilenet.py`
(depthwise separable convolution, inverted residuals, mult-add counting), `densenet.py`, and
`segmentation.py` (FCN, unpooling with switches, SegNet, the dilated context module). `data.py` holds
the small seeded data sets (scikit-learn's digits, synthetic shapes) and the loop the tests train with.
"""
from nets.vision import densenet, mobilenet, normalization, segmentation  # noqa: F401  (fills the registry)
from nets.vision import ssd  # noqa: F401
