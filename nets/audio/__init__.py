"""Audio models: WaveNet."""
