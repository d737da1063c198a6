"""An AlphaGo Zero net (nets/go/zero_resnet.py) as an ONNX graph, and an ONNX Runtime session to run it.

ONNX (Open Neural Network Exchange, onnx.ai; operator set 17) is the graph format that ONNX Runtime
(Microsoft, onnxruntime.ai) executes with its own CPU kernels. The graph has one input and two outputs,
with the batch as a dynamic axis so one file serves every batch size the search hands over:

    planes         float32 (B, 17, N, N)   AlphaGo Zero's input planes (goengine.features.zero_planes_batch)
    policy_logits  float32 (B, N² + 1)     index N² is pass
    value          float32 (B,)            v in [-1, 1] for the side to move

Export uses torch's TorchScript tracer (`dynamo=False`): the newer torch.export-based exporter needs
onnxscript, which goengine does not depend on. Tracing in eval mode folds every batch norm into the
convolution before it, so the graph is Conv, Relu, Add, Gemm and Tanh only.

ONNX Runtime ignores OMP_NUM_THREADS; a session's threads are set here, one by default, because a
self-play worker owns one core (selfplay/orchestrator.py).
"""
from __future__ import annotations

import io
import os
import warnings

import torch
import torch.nn as nn

INPUT = "planes"
OUTPUTS = ("policy_logits", "value")
OPSET = 17


def export_onnx(model: nn.Module, path: str | os.PathLike | None = None) -> bytes:
    """The net as a serialised ONNX model with a dynamic batch axis; also written atomically to `path`
    if given. The model is traced in eval mode and left in the mode it was in."""
    config = model.config
    device = next(model.parameters()).device
    example_NCHW = torch.zeros(1, config.in_planes, config.board_size, config.board_size, device=device)
    buffer = io.BytesIO()
    batch_axis = {0: "batch"}
    with warnings.catch_warnings():
        # the TorchScript exporter is deprecated in favour of one that needs onnxscript; the tracer also
        # warns about the net's shape check, which compares only the non-batch dims and so traces fine
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            model, (example_NCHW,), buffer, input_names=[INPUT], output_names=list(OUTPUTS),
            dynamic_axes={name: batch_axis for name in (INPUT, *OUTPUTS)}, opset_version=OPSET,
            do_constant_folding=True, dynamo=False,
        )
    data = buffer.getvalue()
    if path is not None:
        from goengine.atomic import write_bytes

        write_bytes(path, data)
    return data


def ort_session(model: bytes | str | os.PathLike, threads: int = 1):
    """An ONNX Runtime CPU session for a serialised model (or a file) running on `threads` threads."""
    import onnxruntime as ort

    if threads < 1:
        raise ValueError(f"an ONNX Runtime session needs at least 1 thread, not {threads}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1  # the graph is a chain: nothing to run side by side
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    source = model if isinstance(model, bytes) else os.fspath(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
