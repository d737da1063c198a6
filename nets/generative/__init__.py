"""Generative models: VAE, GAN, DCGAN."""
