"""Audio models: WaveNet (`wavenet.py`: μ-law companding, causal dilated convolutions, gated residual blocks)."""
from nets.audio import wavenet  # noqa: F401
