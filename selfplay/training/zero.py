"""AlphaGo Zero's trainer as a TrainSpec: its net, optimizer, objective and learning-rate schedule, taken
from rl/alphago_zero/trainer.py (not copied), for the backends that rebuild it in other processes."""
from __future__ import annotations

import functools

from nets.go.zero_resnet import ZeroResNet
from rl.alphago_zero.trainer import Trainer, lr_at, make_optimizer, objective
from selfplay.training.api import TrainSpec


def zero_spec(trainer: Trainer) -> TrainSpec:
    config = trainer.config
    return TrainSpec(build_model=functools.partial(ZeroResNet, trainer.model.config),
                     build_optimizer=functools.partial(make_optimizer, config=config),
                     loss_fn=functools.partial(objective, config=config),
                     lr_at=functools.partial(lr_at, config), batch_size=config.batch_size)
