"""Compression of the Go net: ONNX export and static int8 quantization (pruning and distillation are not
written yet).

Start with onnx_export.py (the net as an ONNX graph and an ONNX Runtime session), then quantize.py (static
int8 QDQ quantization calibrated on real planes). rl/alphago_zero/ort_evaluator.py puts both behind the
search's evaluator interface.
"""
from nets.compression import onnx_export, quantize  # noqa: F401
