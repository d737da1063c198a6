"""The training-backend flags a `goengine train` subcommand adds, and the backend they make."""
from __future__ import annotations

from goengine import checks
from goengine.cli import UserError


def add_training_arguments(parser) -> None:
    g = parser.add_argument_group("distributed training (selfplay/training, docs/distributed.md)")
    g.add_argument("--train-mode", choices=("local", "sync", "async"), default="local",
                   help="local: this process; sync: DDP all-reduce on Ray Train workers; async: a parameter server")
    g.add_argument("--train-workers", type=int, default=None,
                   help="data-parallel training workers (default: 1 for local, 2 otherwise)")
    g.add_argument("--max-staleness", type=int, default=None,
                   help="async: apply no gradient more than this many versions stale (default: unbounded)")
    g.add_argument("--staleness-lr", action="store_true", help="async: learning rate / staleness for each gradient")
    g.add_argument("--delay-compensation", type=float, default=0.0, metavar="LAMBDA",
                   help="async: DC-ASGD's lambda_0, correcting each stale gradient by g*g*(w_now - w_pulled) "
                        "(default 0: off; 2 in docs/distributed.md)")
    g.add_argument("--lookahead", action="store_true",
                   help="async: send workers the weights extrapolated along the momentum by the expected "
                        "staleness, where their gradients will land (DANA; SGD with momentum)")


def train_workers(args) -> int:
    """The flags' worker count, checked: UserError (one line) for bad values, before anything starts."""
    workers = args.train_workers if args.train_workers is not None else (1 if args.train_mode == "local" else 2)
    try:
        checks.integer("--train-workers", workers, 1)
        if args.train_mode == "local" and workers != 1:
            raise ValueError(f"--train-mode local trains in this process: --train-workers must be 1, not {workers}")
        if args.max_staleness is not None:
            checks.integer("--max-staleness", args.max_staleness, 0)
        checks.number("--delay-compensation", args.delay_compensation, 0)
        if args.train_mode != "async" and (args.max_staleness is not None or args.staleness_lr
                                           or args.delay_compensation or args.lookahead):
            raise ValueError("--max-staleness, --staleness-lr, --delay-compensation and --lookahead are for "
                             "--train-mode async")
    except ValueError as e:
        raise UserError(str(e)) from None
    return workers


def ray_cpus(args) -> int:
    """Logical CPUs the training backend's actors take on Ray: K workers, and the server in async. A local
    Ray started for self-play gets these on top of its own, since the self-play actors hold theirs (and
    are idle while training runs)."""
    if args.train_mode == "local":
        return 0
    return train_workers(args) + (1 if args.train_mode == "async" else 0)


def backend_from_args(args, address: str | None = None):
    """The backend of the flags (Ray joined if running, else started with room for it)."""
    from selfplay.training import make_backend

    workers = train_workers(args)
    try:
        return make_backend(args.train_mode, workers, address=address, max_staleness=args.max_staleness,
                            staleness_lr=args.staleness_lr, delay_compensation=args.delay_compensation,
                            lookahead=args.lookahead)
    except ConnectionError as e:
        raise UserError(str(e)) from None
