"""Compression tools that shrink the Go net: int8 quantization, structured pruning, distillation.

Start with onnx_export.py (the net as an ONNX graph and an ONNX Runtime session), then quantize.py (static
int8 QDQ quantization calibrated on real planes). rl/alphago_zero/ort_evaluator.py puts both behind the
search's evaluator interface.
"""
from nets.compression import onnx_export, quantize  # noqa: F401
