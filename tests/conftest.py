"""Shared pytest setup: a stable numba cache so jitted kernels compile once per machine."""
import os

import pytest

os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), ".numba_cache"))


@pytest.fixture(scope="module")
def torch_one_thread():
    """torch on one thread for a test module (module scope, so that module fixtures that train a net run
    on one thread too, as their golden values assume): the nets in tests are small, and on a busy two-core machine a
    second thread mostly spins waiting for the first. Modules use it with
    `pytestmark = pytest.mark.usefixtures("torch_one_thread")`."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
