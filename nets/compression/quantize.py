"""Static int8 quantization of an exported AlphaGo Zero net, calibrated on real input planes.

Integer-arithmetic-only inference (Jacob et al. 2018, "Quantization and training of neural networks for
efficient integer-arithmetic-only inference", CVPR): a real value r is stored as an 8-bit integer q with
r = S (q - Z), scale S and zero point Z; a convolution then multiplies int8 by int8 into int32 and rescales
once. Weights get S and Z from their own range; activations from the range they reach on calibration
inputs, recorded once, which is what makes the quantization static (no range is measured at run time).

ONNX Runtime's recipe (onnxruntime.ai/docs/performance/model-optimizations/quantization.html) is followed:

    pre-process   quant_pre_process: shape inference and graph clean-up (it removes the Identity nodes the
                  exporter emits when two folded biases are equal, which would stop their convs quantizing)
    calibrate     MinMax over the caller's planes: each activation's observed [min, max]
    quantize      QDQ format: QuantizeLinear/DequantizeLinear pairs around each Conv, residual Add and
                  ReLU, which the session's optimizer fuses into integer kernels (QLinearConv, QLinearAdd),
                  so the trunk stays in int8 from the first convolution to the heads; weights QInt8 per
                  output channel (per_channel), activations QUInt8; the heads' fully connected layers stay
                  fp32 (Int8Config.op_types)

reduce_range stores weights in 7 bits. On x86 CPUs without VNNI the u8 x s8 kernels add pairs of
products in int16 (vpmaddubsw), and full 8-bit weights can saturate that sum; ORT's docs recommend
reduce_range there. Measured on this project's AVX2 machine, 6x64 net on 9x9, one thread, batch 16 (us
per position): torch 903, fp32 ORT 708, int8 356 with QUInt8 activations but 762 with QInt8 ones;
reduce_range costs no speed; its effect on accuracy went both ways (top-1 agreement with fp32 0.94
against 0.92 on a random-weight 6x64 net; policy total variation 0.0078 against 0.0061 on the trained
5x5 net), so it stays on for the saturation it rules out.
Leaving the heads' Gemm layers in fp32 costs no measurable speed (372 against 374 us) and, on the trained
5x5 net of runs/zero-5x5, raised top-1 policy agreement with fp32 on its self-play positions from 0.79
to 0.97 (total variation between the policies from 0.031 to 0.008; value error 0.009 either way).
Quantizing the residual Adds and ReLUs as well as the Convs leaves 2 DequantizeLinear and 1
QuantizeLinear in the optimised graph instead of 8 and 7, and took the forward pass from 376 to 356 us
(batch 64, random-weight 6x64 net, three interleaved rounds) at no cost in accuracy: on 1,000 self-play
positions of the trained nets, top-1 agreement with fp32 0.893 -> 0.902 (9x9) and 0.961 -> 0.961 (5x5),
value error 0.0063 -> 0.0055 and 0.0087 -> 0.0077 (calibrated on random games; on self-play positions
alike). Adds alone, without the ReLUs, were slower (385 us): each Add then sat between a dequantize and
a quantize.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import numpy as np

from nets.compression.onnx_export import INPUT

ACTIVATION_TYPES = ("quint8", "qint8")
WEIGHT_TYPES = ("qint8", "quint8")


@dataclass(frozen=True)
class Int8Config:
    per_channel: bool = True
    """One scale per output channel of each weight tensor (convolution filters differ widely in range)."""
    reduce_range: bool = True
    """7-bit weights: no int16 saturation in the u8 x s8 kernels of CPUs without VNNI."""
    activation_type: str = "quint8"
    """Activations after ReLU are non-negative, so unsigned uses all 256 levels; also the faster kernel."""
    weight_type: str = "qint8"
    calibration_batch: int = 64
    """Planes per calibration forward pass (only memory depends on it, not the ranges found)."""
    op_types: tuple[str, ...] = ("Conv", "Add", "Relu")
    """Operators quantized: the trunk's convolutions, residual additions and ReLUs. The heads' fully
    connected layers (Gemm) stay fp32: they are a tiny share of the work, and int8 there cost the trained
    5x5 net a fifth of its top-1 policy agreement."""

    def __post_init__(self) -> None:
        if self.activation_type not in ACTIVATION_TYPES:
            raise ValueError(f"activation_type must be one of {ACTIVATION_TYPES}, not {self.activation_type!r}")
        if self.weight_type not in WEIGHT_TYPES:
            raise ValueError(f"weight_type must be one of {WEIGHT_TYPES}, not {self.weight_type!r}")
        if self.calibration_batch < 1:
            raise ValueError(f"calibration_batch must be at least 1, not {self.calibration_batch}")


def _reader(planes_NCHW: np.ndarray, batch: int):
    from onnxruntime.quantization import CalibrationDataReader

    class PlanesReader(CalibrationDataReader):
        """The calibration planes in batches, as ORT's calibrator asks for them."""

        def __init__(self) -> None:
            self.starts = iter(range(0, len(planes_NCHW), batch))

        def get_next(self):
            lo = next(self.starts, None)
            return None if lo is None else {INPUT: planes_NCHW[lo:lo + batch]}

    return PlanesReader()


def quantize_int8(fp32_model: bytes, calibration_planes_NCHW: np.ndarray, path: str | os.PathLike | None = None,
                  config: Int8Config = Int8Config()) -> bytes:
    """The QDQ int8 model of a serialised fp32 model (export_onnx), its activation ranges calibrated on
    `calibration_planes_NCHW` (float32 (B, C, N, N): positions like those it will evaluate); also written
    atomically to `path` if given."""
    from onnxruntime.quantization import QuantFormat, QuantType, quant_pre_process, quantize_static

    planes_NCHW = np.ascontiguousarray(calibration_planes_NCHW, dtype=np.float32)
    if planes_NCHW.ndim != 4 or len(planes_NCHW) == 0:
        raise ValueError(f"calibration planes must be a non-empty (B, C, N, N) array, not {planes_NCHW.shape}")
    types = {"qint8": QuantType.QInt8, "quint8": QuantType.QUInt8}
    with tempfile.TemporaryDirectory(prefix="goengine-int8-") as work:
        fp32_path, pre_path, int8_path = (os.path.join(work, f"{n}.onnx") for n in ("fp32", "pre", "int8"))
        with open(fp32_path, "wb") as f:
            f.write(fp32_model)
        quant_pre_process(fp32_path, pre_path)
        quantize_static(
            pre_path, int8_path, _reader(planes_NCHW, config.calibration_batch), quant_format=QuantFormat.QDQ,
            per_channel=config.per_channel, reduce_range=config.reduce_range,
            activation_type=types[config.activation_type], weight_type=types[config.weight_type],
            op_types_to_quantize=list(config.op_types),
        )
        with open(int8_path, "rb") as f:
            data = f.read()
    if path is not None:
        from goengine.atomic import write_bytes

        write_bytes(path, data)
    return data


def qdq_summary(model: bytes) -> dict[str, int]:
    """Counts that show a model is quantized: QuantizeLinear / DequantizeLinear nodes, and the weight
    initializers stored as 8-bit integers against those still float32."""
    import onnx

    proto = onnx.load_from_string(model)
    ops = [node.op_type for node in proto.graph.node]
    types = [init.data_type for init in proto.graph.initializer]
    eight_bit = (onnx.TensorProto.INT8, onnx.TensorProto.UINT8)
    return {
        "quantize_nodes": ops.count("QuantizeLinear"),
        "dequantize_nodes": ops.count("DequantizeLinear"),
        "int8_initializers": sum(t in eight_bit for t in types),
        "int8_weight_values": sum(int(np.prod(init.dims)) for init in proto.graph.initializer
                                  if init.data_type in eight_bit),
        "float_weight_values": sum(int(np.prod(init.dims)) for init in proto.graph.initializer
                                   if init.data_type == onnx.TensorProto.FLOAT),
    }
