"""Shared pytest setup: a stable numba cache so jitted kernels compile once per machine."""
import os

os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), ".numba_cache"))
