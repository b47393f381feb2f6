"""What `python -m vae_core.evaluate` computes: the test figures, the IWAE bound, sample quality and its classifier."""
