"""nets: the Go networks and the deep-learning syllabus as small torch modules.

Start reading at `registry.py` (`build(name, **config)`, `available()`), then the subpackage that
interests you:

    go/           AlphaGo Lee policy, value and rollout nets; the AlphaGo Zero ResNet; checkpoints
    sequence/     RNN with hand-written BPTT, LSTM, GRU, seq2seq, attention, HRED/VHRED, word2vec, Transformer
    vision/       MobileNet, DenseNet, normalisation layers, SSD, segmentation
    audio/        WaveNet
    generative/   VAE, GAN, DCGAN
    compression/  structured pruning, distillation, ONNX export and int8 quantization of the Go nets
    metrics.py    IoU, AP/mAP, COCO AP, NMS, BLEU

Importing `nets` imports every subpackage so that the registry is complete.
"""
from nets.registry import available, build, register

from nets import audio, compression, generative, go, sequence, vision  # noqa: E402,F401  (fills the registry)
from nets.go.checkpoint import load  # noqa: E402

__all__ = ["available", "build", "load", "register"]
