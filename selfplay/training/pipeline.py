"""Model parallel: the Zero ResNet cut into 2 pipeline stages, each in its own process (a Ray actor), fed
micro-batches on the GPipe schedule (Huang et al. 2019, "GPipe: efficient training of giant neural
networks using pipeline parallelism"): for a net whose weights and activations do not fit one worker.

    stage 0   stem + the first residual blocks          (its own process, its own optimizer)
    stage 1   the remaining blocks + tip + policy and value heads, and the loss

A step splits the batch into M micro-batches. Stage 0 runs all M forwards, passing each activation to
stage 1 as soon as it is ready (so stage 1 works on micro-batch i while stage 0 computes i + 1); stage 1
runs forward, loss / M and backward per micro-batch and returns the gradient of its input; stage 0 then
runs its backwards; gradients accumulate over the micro-batches and both stages step. The result is
gradient accumulation over M micro-batches: with M = 1 exactly the single net's step; with M > 1 the
single net's gradient summed over the same micro-batches (batch norm sees micro-batch statistics, as in
GPipe). The cut is placed where the parameters are closest to half and half.

Ray runs one actor's tasks in the order one caller submitted them, which makes this schedule: all
forwards of stage 0 are submitted before its backwards.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from nets.go.zero_resnet import ZeroResNet
from selfplay.training.api import worker_process_setup


class Stage(nn.Module):
    """Named parts of a ZeroResNet, run in order; `names` are the parts' names in the whole net."""

    def __init__(self, parts: list[tuple[str, nn.Module]], last: bool):
        super().__init__()
        self.names = [name for name, _ in parts]
        self.parts = nn.ModuleList(module for _, module in parts)
        self.last = last

    def forward(self, x_NCHW: torch.Tensor):
        parts = list(zip(self.names, self.parts))
        body = parts[:-2] if self.last else parts
        for _, module in body:
            x_NCHW = module(x_NCHW)
        if not self.last:
            return x_NCHW
        policy_logits_NA = self.parts[-2](x_NCHW)
        value_N = self.parts[-1](x_NCHW).squeeze(1)  # (N, 1) -> (N,)
        return policy_logits_NA, value_N

    def full_named_parameters(self):
        """(name in the whole net, parameter)."""
        for name, module in zip(self.names, self.parts):
            for sub, p in module.named_parameters():
                yield f"{name}.{sub}", p


def split_zero(model: ZeroResNet, stages: int = 2) -> list[Stage]:
    """The net's modules, in forward order, cut into 2 stages of about equal parameter count (copies of
    the modules: the stages own their weights)."""
    import copy

    if stages != 2:
        raise ValueError("split_zero cuts the net into 2 stages")
    parts = [("stem", model.stem)] + [(f"tower.{i}", b) for i, b in enumerate(model.tower)] + [
        ("tip", model.tip), ("policy_head", model.policy_head), ("value_head", model.value_head)]
    sizes = [sum(p.numel() for p in m.parameters()) for _, m in parts]
    total, best, cut = sum(sizes), None, 1
    for i in range(1, max(2, len(model.tower) + 1)):  # a residual block or more, and the heads, on stage 1
        gap = abs(2 * sum(sizes[:i]) - total)
        if best is None or gap < best:
            best, cut = gap, i
    parts = [(n, copy.deepcopy(m)) for n, m in parts]
    return [Stage(parts[:cut], last=False), Stage(parts[cut:], last=True)]


class StageWorker:
    """One stage in its own process: forward, backward and step for micro-batches by id. A plain class;
    PipelineParallel makes it remote."""

    def __init__(self, stage: Stage, lr: float = 0.01):
        worker_process_setup()
        self.stage = stage
        self.optimizer = torch.optim.SGD(stage.parameters(), lr=lr)
        self.saved: dict[int, tuple] = {}

    def train(self, mode: bool) -> None:
        self.stage.train(mode)
        self.optimizer.zero_grad(set_to_none=True)
        self.saved.clear()

    def forward(self, mb: int, x_NCHW: torch.Tensor, keep: bool = True):
        x_NCHW = x_NCHW.detach().requires_grad_(keep)
        with torch.set_grad_enabled(keep):
            out = self.stage(x_NCHW)
        if keep:
            self.saved[mb] = (x_NCHW, out)
        return out.detach() if isinstance(out, torch.Tensor) else tuple(o.detach() for o in out)

    def forward_loss_backward(self, mb: int, x_NCHW: torch.Tensor, policy_BA: torch.Tensor, z_B: torch.Tensor,
                              scale: float) -> tuple[torch.Tensor, float]:
        """Last stage: forward, Zero's loss (policy CE + value MSE) x scale, backward; the input's gradient."""
        from rl.alphago_zero.trainer import zero_loss

        x_NCHW = x_NCHW.detach().requires_grad_(True)
        logits_BA, v_B = self.stage(x_NCHW)
        policy_loss, value_loss = zero_loss(logits_BA, v_B, policy_BA, z_B)
        loss = (policy_loss + value_loss) * scale
        loss.backward()
        return x_NCHW.grad, loss.item()

    def backward(self, mb: int, grad_NCHW: torch.Tensor) -> None:
        _, out = self.saved.pop(mb)
        out.backward(grad_NCHW)

    def step(self) -> None:
        self.optimizer.step()

    def flush(self) -> None:
        """Returns once the tasks submitted before it have run (the backwards, here)."""

    def gradients(self) -> dict[str, torch.Tensor]:
        return {name: p.grad.clone() for name, p in self.stage.full_named_parameters() if p.grad is not None}

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {name: p.detach().clone() for name, p in self.stage.full_named_parameters()}


class PipelineParallel:
    """The net's two stages as Ray actors (Ray must be running: selfplay.training._ray.RaySession)."""

    def __init__(self, model: ZeroResNet, lr: float = 0.01, cpus_per_stage: float = 1.0):
        import ray

        remote = ray.remote(num_cpus=cpus_per_stage)(StageWorker)
        self.stages = [remote.remote(stage, lr) for stage in split_zero(model)]
        self._ray = ray

    def forward(self, planes_BCHW: torch.Tensor, micro_batches: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """Outputs without gradients (in the stages' current train/eval mode)."""
        ray = self._ray
        first, last = self.stages
        outs = [last.forward.remote(i, first.forward.remote(i, x, False), False)
                for i, x in enumerate(torch.chunk(planes_BCHW, micro_batches))]
        results = ray.get(outs)
        return torch.cat([r[0] for r in results]), torch.cat([r[1] for r in results])

    def train_step(self, planes_BCHW, policy_BA, value_B, micro_batches: int, apply: bool = True) -> float:
        """One GPipe step on the batch in `micro_batches` equal parts; returns the loss (the mean over the
        batch when the parts are equal). apply=False leaves the gradients for `gradients()`."""
        ray = self._ray
        first, last = self.stages
        ray.get([first.train.remote(True), last.train.remote(True)])
        xs, ps, zs = (torch.chunk(t, micro_batches) for t in (planes_BCHW, policy_BA, value_B))
        acts = [first.forward.remote(i, x) for i, x in enumerate(xs)]
        losses = []
        for i, (a, p, z) in enumerate(zip(acts, ps, zs)):
            grad, loss = last.forward_loss_backward.options(num_returns=2).remote(i, a, p, z, 1.0 / len(xs))
            first.backward.remote(i, grad)
            losses.append(loss)
        total = sum(ray.get(losses))
        if apply:
            ray.get([first.step.remote(), last.step.remote()])
        else:
            ray.get([first.flush.remote(), last.flush.remote()])
        return total

    def eval(self) -> None:
        self._ray.get([s.train.remote(False) for s in self.stages])

    def gradients(self) -> dict[str, torch.Tensor]:
        return {k: v for g in self._ray.get([s.gradients.remote() for s in self.stages]) for k, v in g.items()}

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {k: v for g in self._ray.get([s.state_dict.remote() for s in self.stages]) for k, v in g.items()}

    def close(self) -> None:
        for s in self.stages:
            self._ray.kill(s)
