"""Forward-pass throughput of a Go net, the figure behind `goengine bench nets`.

The number of threads is the caller's choice: for one-thread figures (how a self-play worker runs)
call `torch.set_num_threads(1)` at the entry point before measuring. Compare figures only within one
run on one machine.
"""
from __future__ import annotations

import time

import torch
import torch.nn as nn


def forward_throughput(module: nn.Module, in_planes: int, board_size: int, batch: int, seconds: float) -> float:
    """Positions per second through `module` at `batch` positions per forward pass, timed for ~`seconds`.

    Inputs are random 0/1 planes like real feature planes; the module runs in eval and inference mode
    (its training flag is restored afterwards). One untimed pass first pays one-off allocation costs.
    """
    if batch < 1 or seconds <= 0:
        raise ValueError(f"need batch >= 1 and seconds > 0, got batch={batch}, seconds={seconds}")
    device = next(module.parameters()).device
    generator = torch.Generator().manual_seed(0)
    x_NCHW = (torch.rand(batch, in_planes, board_size, board_size, generator=generator) < 0.5).float().to(device)
    was_training = module.training
    module.eval()
    try:
        with torch.inference_mode():
            module(x_NCHW)
            passes = 0
            start = time.perf_counter()
            while True:
                module(x_NCHW)
                passes += 1
                elapsed = time.perf_counter() - start
                if elapsed >= seconds:
                    break
    finally:
        module.train(was_training)
    return passes * batch / elapsed
