"""`goengine selfplay`: AlphaGo Zero self-play games with one net, on Ray workers, written as records.

    goengine selfplay --weights run/best.pt --games 200 --workers 2 --out games/
    goengine selfplay --weights run/best.pt --games 200 --workers 8 --out games/ --address head:6379

The net's board size, and its architecture, come from the checkpoint. Each game becomes one record in
OUT (rl/records.py, written atomically the moment its chunk of games comes back), and every
`--sgf-every`-th game also an SGF in OUT/sgf. A game's seed comes from (--seed, --generation, its
index), so running the same command again skips the games already on disk and plays only the missing
ones: a crashed or interrupted run is resumed by repeating it.

With --workers 1 and no --address the games are played in this process (no Ray); otherwise each worker
is a Ray actor (selfplay/orchestrator.py) on an embedded local Ray, or on the cluster at --address. With
--inference ort or ort-int8 each worker runs the net in ONNX Runtime on one thread (selfplay/worker.py).
With --inference server one inference actor runs the net for all workers, merging their batches into
one forward pass (selfplay/inference.py), on --inference-device cuda (a GPU) or cpu (a core of its own):

    goengine selfplay --weights run/best.pt --games 2000 --workers 15 --inference server --out games/
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", required=True, help="AlphaGo Zero checkpoint (e.g. RUN_DIR/best.pt)")
    parser.add_argument("--games", type=int, required=True, help="games to play")
    parser.add_argument("--workers", type=int, default=1, help="self-play workers, one CPU each (default 1)")
    parser.add_argument("--out", required=True, help="folder for the game records")
    parser.add_argument("--visits", type=int, default=200, help="root visits per move (default 200)")
    parser.add_argument("--address", default=None, help="join the Ray cluster at this address (host:port)")
    parser.add_argument("--board-size", type=int, default=None,
                        help="refuse a checkpoint for another board size (default: the checkpoint's)")
    parser.add_argument("--komi", type=float, default=7.0, help="komi (default 7)")
    parser.add_argument("--parallel-games", type=int, default=16,
                        help="games each worker plays at once, batching their leaves (default 16)")
    parser.add_argument("--resign-threshold", type=float, default=0.05,
                        help="resign below this win rate (0: never; disabled anyway in 10%% of games)")
    parser.add_argument("--generation", type=int, default=0, help="generation recorded in the records")
    parser.add_argument("--seed", type=int, default=0, help="seed of the games")
    parser.add_argument("--sgf-every", type=int, default=10, help="save every k-th game as SGF too (0: none)")
    add_inference_arguments(parser)


def add_inference_arguments(parser: argparse.ArgumentParser, note: str = "") -> None:
    """--inference and the inference server's flags: `goengine selfplay` and `goengine train zero` share them."""
    parser.add_argument("--inference", choices=("torch", "ort", "ort-int8", "server"), default="torch",
                        help="forward passes in each worker in torch, ONNX Runtime fp32, or ONNX Runtime static "
                             "int8 (calibrated on random games, then on each worker's recent positions), or in "
                             f"one inference server for all workers, on a GPU or a CPU core{note} (default torch)")
    parser.add_argument("--inference-device", choices=("auto", "cpu", "cuda"), default=None,
                        help="device of the inference server (default auto: cuda if there is a CUDA GPU, else cpu)")
    parser.add_argument("--inference-max-batch", type=int, default=None,
                        help="most positions in one forward pass of the server (default: all workers' batches)")
    parser.add_argument("--inference-max-wait-ms", type=float, default=None,
                        help="longest a worker's request waits for others to join its pass (default 2)")
    parser.add_argument("--inference-fp16", action="store_true", help="server passes in float16 autocast (cuda)")


def server_config(args, inference: str, on_this_machine: bool):
    """The inference server's ServerConfig from the flags (None unless `inference` is "server"). The device
    is resolved here when the server runs on this machine, so that cuda without a GPU fails before Ray
    starts; on a cluster the orchestrator resolves it from the cluster's GPUs."""
    from goengine import checks
    from goengine.cli import UserError
    from selfplay.inference import ServerConfig, resolve_device

    given = [flag for flag, value in (("--inference-device", args.inference_device),
                                      ("--inference-max-batch", args.inference_max_batch),
                                      ("--inference-max-wait-ms", args.inference_max_wait_ms),
                                      ("--inference-fp16", args.inference_fp16 or None)) if value is not None]
    if inference != "server":
        if given:
            raise UserError(f"{given[0]} is for --inference server (inference here is {inference})")
        return None
    device = args.inference_device or "auto"
    if on_this_machine:
        import torch

        try:
            device = resolve_device(device, torch.cuda.is_available())
        except ValueError:
            raise UserError(f"--inference-device cuda: torch {torch.__version__} finds no CUDA GPU here "
                            f"(use --inference-device cpu or auto)") from None
    if args.inference_fp16 and device == "cpu":
        raise UserError("--inference-fp16 needs a CUDA device, and the inference server runs on cpu")
    try:
        return ServerConfig(device=device, max_batch=args.inference_max_batch, fp16=args.inference_fp16,
                            max_wait_ms=2.0 if args.inference_max_wait_ms is None else args.inference_max_wait_ms)
    except ValueError as e:
        raise UserError(checks.renamed(e, {"max_batch": "--inference-max-batch",
                                           "max_wait_ms": "--inference-max-wait-ms"})) from None


def _check(args) -> None:
    """The flags that the command itself uses (SelfPlayConfig checks the rest, once the net's board is
    known), and the output folder: before the slow imports and the net."""
    from goengine import checks, coords
    from goengine.cli import UserError

    try:
        checks.integer("--games", args.games, 1)
        checks.integer("--workers", args.workers, 1)
        checks.integer("--generation", args.generation, 0, 2**63 - 1)  # records hold it as an int64
        checks.integer("--sgf-every", args.sgf_every, 0)
        if args.board_size is not None:
            checks.integer("--board-size", args.board_size, coords.MIN_SIZE, coords.MAX_SIZE)
        checks.output_folder("--out", args.out)
    except ValueError as e:
        raise UserError(str(e)) from None


# the flag of each SelfPlayConfig field that a flag sets
FLAG_OF_FIELD = {name: "--" + name.replace("_", "-")
                 for name in ("komi", "visits", "parallel_games", "resign_threshold", "seed", "inference")}


def missing_chunks(config, generation: int, n_games: int, out_dir: str, chunk: int) -> list[tuple[int, int]]:
    """(first game, count) runs of at most `chunk` games whose records are not in out_dir yet."""
    from rl.records import record_filename
    from selfplay.worker import game_seed

    present = set(os.listdir(out_dir))
    todo = [i for i in range(n_games)
            if record_filename(generation, game_seed(config.seed, generation, i)) not in present]
    runs: list[tuple[int, int]] = []
    for i in todo:
        if runs and runs[-1][0] + runs[-1][1] == i and runs[-1][1] < chunk:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((i, 1))
    return runs


def run(args: argparse.Namespace) -> int:
    from goengine import checks
    from goengine.cli import UserError

    _check(args)
    from selfplay.orchestrator import check_address

    if args.address is not None:
        try:
            check_address(args.address)  # before the slow imports: an unreachable cluster fails at once
        except ConnectionError as e:
            raise UserError(str(e)) from None
    import torch

    from nets.go.checkpoint import CheckpointError
    from rl.net_player import load_zero_net
    from rl.records import save_sgf, write_record
    from selfplay.orchestrator import LocalSelfPlay, Orchestrator, WorkersLostError
    from selfplay.selfplay_config import SelfPlayConfig
    from selfplay.worker import game_seed

    try:
        model, meta = load_zero_net(args.weights, args.board_size)
    except CheckpointError as e:
        raise UserError(str(e)) from None
    try:
        config = SelfPlayConfig(board_size=meta.board_size, komi=args.komi, net=model.config, visits=args.visits,
                                parallel_games=args.parallel_games, resign_threshold=args.resign_threshold,
                                seed=args.seed, inference=args.inference)
    except ValueError as e:
        raise UserError(checks.renamed(e, FLAG_OF_FIELD)) from None
    server = server_config(args, args.inference, on_this_machine=args.address is None)
    os.makedirs(args.out, exist_ok=True)
    chunk = max(1, min(args.parallel_games, math.ceil(args.games / args.workers)))
    chunks = missing_chunks(config, args.generation, args.games, args.out, chunk)
    todo = sum(c for _, c in chunks)
    if todo < args.games:
        print(f"goengine selfplay: {args.games - todo} of {args.games} games already in {args.out}", file=sys.stderr)
    if not chunks:
        return 0
    version = int((meta.extra or {}).get("generation", 0)) if isinstance(meta.extra, dict) else 0
    local = args.workers == 1 and args.address is None
    if local:
        torch.set_num_threads(1)  # one worker, one core: as a Ray actor would be
        executor = LocalSelfPlay(config, server=server)
    else:
        try:
            executor = Orchestrator(config, args.workers, address=args.address,
                                    num_cpus=args.workers if args.address is None else None, server=server)
        except (ConnectionError, ValueError) as e:
            raise UserError(str(e)) from None
    from tqdm import tqdm

    start = time.perf_counter()
    games = positions = black_wins = 0
    sgf_dir = os.path.join(args.out, "sgf")
    index_of = {game_seed(config.seed, args.generation, i): i for i in range(args.games)}  # records hold seeds
    try:
        executor.publish(model.state_dict(), version)
        with tqdm(total=todo, unit="game", file=sys.stderr, disable=None) as bar:
            for records, _stats in executor.play(args.generation, chunks):
                for record in records:
                    write_record(args.out, record)
                    index = index_of[record.seed]
                    if args.sgf_every and index % args.sgf_every == 0:
                        os.makedirs(sgf_dir, exist_ok=True)
                        save_sgf(record, os.path.join(sgf_dir, f"game{index:06d}.sgf"))
                    games += 1
                    positions += record.num_moves
                    black_wins += record.result > 0
                bar.update(len(records))
                seconds = time.perf_counter() - start
                bar.set_postfix(positions_per_s=f"{positions / max(seconds, 1e-9):.0f}")
        inference = executor.inference_stats()
        if inference is not None:
            print(f"goengine selfplay: {inference.summary()}", file=sys.stderr)
    except WorkersLostError as e:  # the games written so far stay: the same command plays the rest
        print(f"goengine selfplay: {e}; {games} games written, run the command again for the rest", file=sys.stderr)
        return 1
    finally:
        executor.close()
    seconds = time.perf_counter() - start
    print(f"goengine selfplay: {games} games, {positions} positions in {seconds:.0f} s "
          f"({3600 * games / seconds:.0f} games/hour with {args.workers} worker{'s' * (args.workers > 1)}); "
          f"Black won {black_wins}; records in {args.out}", file=sys.stderr)
    return 0

