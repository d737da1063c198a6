"""Compression of the Go net: structured pruning, distillation, and int8 quantization (post-training and
quantization-aware).

Start with pruned_nets.py (what a pruned net is: the same layers, narrower, with every width in its
config), then prune.py (channel pruning with torch-pruning, and magnitude pruning as the baseline),
distill.py (a small student taught by a big teacher), onnx_export.py and quantize.py (the net as an ONNX
graph, then static int8 QDQ calibrated on real planes), and qat.py (fake-quant fine-tuning before int8).
rl/alphago_zero/ort_evaluator.py puts the ONNX paths behind the search's evaluator interface;
rl/compression/ is the `goengine compress` command.
"""
from nets.compression import int8_net, onnx_export, pruned_nets, quantize  # noqa: F401  (fill the registry)
