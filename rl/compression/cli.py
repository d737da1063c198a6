"""`goengine compress prune|distill|quantize`: make a smaller or faster net from a trained AlphaGo Zero
checkpoint, fine-tuned or calibrated on a run's replay records, written as a checkpoint that
`goengine gtp --weights` and `goengine match` (goengine:weights=W) play.

`prune` also takes an AlphaGo Lee SL policy (RUN/sl.pt of `goengine train lee sl`) with --data a dataset
folder of `goengine data convert` (rl/compression/lee_data.py); its output is a `lee_policy_pruned` net
that plays as the sl.pt of a Lee run folder (`goengine gtp --lee`).

    goengine compress prune    --weights W --data RUN_DIR --ratio 0.5 --out W2     channel pruning
    goengine compress distill  --teacher W --student 6x32 --data RUN_DIR --out W2  a student net
    goengine compress quantize --weights W --data RUN_DIR --out W2                 static int8

Each prints one summary line: what was made, its parameters and size, and how closely it follows the
original on positions of held-out games (rl/compression/data.py).
"""
from __future__ import annotations

import os
import sys

from goengine.cli import UserError

FEATURE_SET = "zero"  # rl/alphago_zero/trainer.py's: the planes every Zero net here reads


def _common(p, weights_flag: str = "--weights", lee: bool = False) -> None:
    p.add_argument(weights_flag, required=True, metavar="CHECKPOINT",
                   help="the trained AlphaGo Zero net (e.g. RUN_DIR/best.pt)"
                   + (" or AlphaGo Lee SL policy (LEE_RUN/sl.pt)" if lee else ""))
    p.add_argument("--data", required=True, metavar="RUN_DIR",
                   help="run folder whose games/ replay records are trained or calibrated on"
                   + ("; for a Lee policy, a dataset folder of goengine data convert" if lee else ""))
    p.add_argument("--out", required=True, metavar="CHECKPOINT", help="where to write the compressed net")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="action", required=True)
    p = sub.add_parser("prune", help="structured channel pruning, fine-tuned on replay records",
                       description="structured channel pruning, fine-tuned on replay records")
    _common(p, lee=True)
    p.add_argument("--ratio", type=float, default=0.5, help="fraction of each channel group removed (0 < r < 1)")
    p.add_argument("--importance", choices=("l1", "l2", "bn", "taylor"), default="l2",
                   help="channel ranking: weight L1/L2 norm, BN scale |gamma|, or Taylor |w dL/dw| (default l2)")
    p.add_argument("--steps", type=int, default=1, help="pruning steps: 1 is one-shot, k is iterative")
    p.add_argument("--finetune-steps", type=int, default=200, help="fine-tuning steps after each pruning step")
    p.add_argument("--lr", type=float, default=0.01, help="fine-tuning SGD learning rate")
    p.add_argument("--global", dest="global_pruning", action="store_true",
                   help="rank channels across all groups (blocks then keep different widths)")

    d = sub.add_parser("distill", help="train a smaller student on a teacher's outputs and the records",
                       description="train a smaller student on a teacher's outputs and the records")
    _common(d, "--teacher")
    d.add_argument("--student", default="6x32", help="student size BLOCKSxFILTERS, as the presets (default 6x32)")
    d.add_argument("--steps", type=int, default=2000, help="training steps")
    d.add_argument("--temperature", type=float, default=2.0, help="softmax temperature T of the teacher's policy")
    d.add_argument("--alpha", type=float, default=0.5,
                   help="weight of the teacher's targets against the records' (0: records alone, the control)")
    d.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate")

    q = sub.add_parser("quantize", help="static int8 (ONNX Runtime QDQ), calibrated on replay positions",
                       description="static int8 (ONNX Runtime QDQ), calibrated on replay positions")
    _common(q)
    q.add_argument("--calibration", type=int, default=512, help="positions to calibrate activation ranges on")
    q.add_argument("--qat-steps", type=int, default=0,
                   help="quantization-aware fine-tuning steps before quantizing (0: post-training only)")
    q.add_argument("--lr", type=float, default=1e-3, help="QAT SGD learning rate")


def _check(args) -> None:
    from goengine import checks

    try:
        checks.integer("--batch-size", args.batch_size, 1)
        checks.seed("--seed", args.seed)
        if args.threads is not None:
            checks.integer("--threads", args.threads, 1)
        if args.action == "prune":
            checks.number("--ratio", args.ratio, 0, 1, low_open=True, high_open=True)
            checks.integer("--steps", args.steps, 1)
            checks.integer("--finetune-steps", args.finetune_steps, 0)
            checks.number("--lr", args.lr, 0, low_open=True)
        elif args.action == "distill":
            checks.integer("--steps", args.steps, 0)
            checks.number("--temperature", args.temperature, 0, low_open=True)
            checks.number("--alpha", args.alpha, 0, 1)
            checks.number("--lr", args.lr, 0, low_open=True)
        else:
            checks.integer("--calibration", args.calibration, 1)
            checks.integer("--qat-steps", args.qat_steps, 0)
            checks.number("--lr", args.lr, 0, low_open=True)
        out = os.path.abspath(args.out)
        if os.path.isdir(out):
            raise ValueError(f"--out {args.out} is a folder; give a file name")
        checks.output_folder("--out's folder", os.path.dirname(out))
    except ValueError as e:
        raise UserError(str(e)) from None


class _Bars:
    """progress(phase, done, total) as one tqdm bar per phase on stderr."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.phase = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if phase != self.phase:
            self.close()
            self.bar, self.phase = tqdm(total=total, desc=phase, unit="step", file=sys.stderr, leave=False), phase
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar = self.phase = None


ZERO_NETS = ("zero_resnet", "zero_resnet_pruned")
LEE_NETS = ("lee_policy", "lee_policy_pruned")


def _load(path: str, flag: str, kinds: tuple[str, ...] = ZERO_NETS):
    from nets.go.checkpoint import CheckpointError, load

    try:
        model, meta = load(path)
    except CheckpointError as e:
        raise UserError(f"{flag}: {e}") from None
    if meta.net not in kinds:
        raise UserError(f"{flag}: checkpoint {path} is a {meta.net!r} net; this takes {', '.join(kinds)}")
    if meta.net in LEE_NETS:
        return model, meta  # the Lee feature set's planes (rl/alphago_lee/dataset.py checks them against the data)
    if meta.config.get("in_planes") != 17:
        raise UserError(f"{flag}: checkpoint {path} takes {meta.config.get('in_planes')} planes, not AlphaGo Zero's 17")
    return model, meta


def _span(widths) -> str:
    """"32" when every layer has 32 channels, "16-32" when they range from 16 to 32."""
    low, high = min(widths), max(widths)
    return f"{low}" if low == high else f"{low}-{high}"


def _describe(model) -> str:
    config = model.config
    if model.net_name == "zero_resnet_pruned":
        return f"{len(config.mids) + 1} blocks, trunk {config.trunk}, inner {_span(config.mids)}"
    if model.net_name == "zero_resnet_int8":
        return f"int8 of {config.source_net}"
    if model.net_name == "lee_policy_pruned":
        return f"{len(config.widths) + 1} layers x {_span(config.widths)} filters"
    if model.net_name == "lee_policy":
        return f"{config.layers} layers x {config.filters} filters"
    return f"{config.blocks + 1}x{config.filters}"


def _follow(model, reference, data) -> str:
    import torch

    from nets.compression.distill import agreement

    if len(data.held_out_planes_BCHW) == 0:
        return "no held-out games to compare on"
    if model.net_name in LEE_NETS:
        from rl.compression.lee_data import lee_agreement

        a = lee_agreement(model, reference, data)
        return (f"on {len(data.held_out_planes_BCHW)} held-out positions top-1 agreement {a['top1_agreement']:.3f}, "
                f"top-1 of the moves played {a['top1']:.3f} (the original's {a['reference_top1']:.3f})")
    a = agreement(model, reference, torch.from_numpy(data.held_out_planes_BCHW))
    return (f"on {len(data.held_out_planes_BCHW)} held-out positions top-1 agreement {a['top1_agreement']:.3f}, "
            f"value MSE {a['value_mse']:.4f}")


def run(args) -> int:
    _check(args)
    import torch

    from nets.compression.prune import param_count
    from nets.go.checkpoint import save
    from rl.compression.data import load_replay

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    source = args.teacher if args.action == "distill" else args.weights
    flag = "--teacher" if args.action == "distill" else "--weights"
    model, meta = _load(source, flag, ZERO_NETS + LEE_NETS if args.action == "prune" else ZERO_NETS)
    lee = meta.net in LEE_NETS
    if os.path.abspath(args.out) == os.path.abspath(source):
        raise UserError(f"--out {args.out} is the {flag} checkpoint itself; write the compressed net elsewhere")
    torch.manual_seed(args.seed)
    if lee:
        from rl.compression.lee_data import load_lee

        try:
            data = load_lee(args.data, meta.board_size)
        except ValueError as e:
            raise UserError(str(e)) from None
    else:
        data = load_replay(args.data, meta.board_size, seed=args.seed)
    batches = data.batches(args.batch_size, args.seed)
    bars = _Bars(not args.no_progress)
    try:
        if args.action == "prune":
            from nets.compression.prune import PruneConfig, prune

            config = PruneConfig(ratio=args.ratio, importance=args.importance, steps=args.steps,
                                 finetune_steps=args.finetune_steps, lr=args.lr, global_pruning=args.global_pruning)
            out = prune(model, config, batches, bars)
            extra = {"compression": "prune", "source": os.path.abspath(source), "ratio": args.ratio,
                     "importance": args.importance, "steps": args.steps, "finetune_steps": args.finetune_steps}
        elif args.action == "distill":
            from nets.compression.distill import DistillConfig, distill, student_config
            from nets.go.zero_resnet import ZeroResNet

            try:
                out = ZeroResNet(student_config(args.student, meta.board_size))
            except ValueError as e:
                raise UserError(f"--student: {e}") from None
            config = DistillConfig(temperature=args.temperature, alpha=args.alpha, steps=args.steps, lr=args.lr)
            distill(out, model, batches, config, bars)
            extra = {"compression": "distill", "teacher": os.path.abspath(source), "student": args.student,
                     "temperature": args.temperature, "alpha": args.alpha, "steps": args.steps}
        else:
            out, extra = _quantize(model, data, batches, args, bars, source)
    finally:
        bars.close()
    save(args.out, out, feature_set=meta.feature_set if lee else FEATURE_SET, extra=extra)
    size_kb = os.path.getsize(args.out) / 1024
    before = param_count(model)
    if out.net_name == "zero_resnet_int8":
        what = f"{out.config.model_bytes / 1024:.0f} KiB int8 ONNX model"
    else:
        what = f"{param_count(out):,} params ({param_count(out) / before:.0%} of {before:,})"
    print(f"{args.action}: {source} ({_describe(model)}) -> {args.out} ({_describe(out)}, {what}, "
          f"{size_kb:.0f} KiB file); {_follow(out, model, data)}")
    return 0


def _quantize(model, data, batches, args, bars, source):
    import numpy as np

    from nets.compression.int8_net import int8_net
    from nets.compression.onnx_export import export_onnx
    from nets.compression.quantize import quantize_int8

    fp32 = model
    if args.qat_steps:
        from nets.compression.qat import qat_finetune

        fp32 = qat_finetune(model, batches, args.qat_steps, lr=args.lr, progress=bars)
    rng = np.random.default_rng(args.seed)
    calibration = np.concatenate([data.train.sample(min(256, args.calibration), rng).planes_BCHW
                                  for _ in range(-(-args.calibration // 256))])[:args.calibration]
    bars("quantize", 0, 1)
    out = int8_net(quantize_int8(export_onnx(fp32), calibration), fp32)
    bars("quantize", 1, 1)
    extra = {"compression": "quantize", "source": os.path.abspath(source), "calibration": args.calibration,
             "qat_steps": args.qat_steps}
    return out, extra
