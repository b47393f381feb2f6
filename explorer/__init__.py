"""explorer: the functions behind the vae-explorer app (app.py), each testable without a browser."""
