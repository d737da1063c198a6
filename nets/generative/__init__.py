"""Generative models: VAE, GAN, DCGAN.

Start with `vae.py`, then `gan.py` (losses and the shared training step), then `dcgan.py`.
"""
from nets.generative import dcgan, gan, vae  # noqa: F401
