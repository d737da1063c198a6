"""One way to name an opponent: a short spec, parsed and checked, and the command line that starts it.

    katago:visits=16,threads=1     KataGo (goengine.katago finds it), 16 visits a move
    gnugo:level=10                 GNU Go 3.8 at /usr/games/gnugo, Chinese rules
    goengine:playouts=1000         this engine's `goengine gtp`
    goengine:weights=W,playouts=200
    goengine:weights=W,seconds=1,inference=ort-int8   the net's forward pass in ONNX Runtime int8
    goengine:lee=R,lambda=0.5,seconds=1  AlphaGo Lee's player on the folder `goengine train lee` wrote
    goengine:lee=R,lee_search=rave,seconds=1  ... on the rollout engine's tree, the SL priors at its root
    goengine:seconds=1,search=rave_equiv=2000;prior_even=20   search parameters set (`gtp --search`), ';' between
    goengine:seconds=1,root_policy=W  the playout engine with a Zero net's root priors (`gtp --root-policy W`)
    goengine:seconds=1,playout_policy=R/rollout.pt   ... with AlphaGo's trained p_pi in its playouts
    gtp:"ANY COMMAND"              any GTP engine, as a command line (quoted, so it stays one spec)

A spec is `kind`, or `kind:key=value,key=value`; the keys each kind takes and their checks are the table
`PARAMS` below. `parse_opponent(spec)` gives a frozen `Opponent`; a bad spec is a ValueError of one line
that names the bad part and lists what is accepted. `str(opponent)` is the canonical spec: keys in the
table's order, numbers as Python writes them, and a value equal to its default left out, so that two
specs of the same engine give the same string (`gnugo:level=10` is `gnugo`). `command(opponent, ...)` is
the argv that starts the engine; it checks what only the machine can tell (files, installs).

Values are plain text up to the next comma: a path with a comma in it cannot be named here (use `gtp:`).
Used by `goengine match`; stdlib only, so it imports without torch or ray.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from goengine import checks

GNUGO_PATH = "/usr/games/gnugo"
GNUGO_SEED_LIMIT = 2**31  # GNU Go reads --seed with atoi


@dataclass(frozen=True)
class Param:
    """One key a kind takes: its type, bounds (as goengine.checks words them) and default."""

    name: str
    type: type  # int, float or str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    default: object = None
    """None: the engine's own default, and the key may be left out."""
    choices: tuple[str, ...] = ()


PARAMS: dict[str, tuple[Param, ...]] = {
    "katago": (Param("visits", int, 1), Param("threads", int, 1, default=1), Param("home", str)),
    "gnugo": (Param("level", int, 0, default=10), Param("seed", int, 0, GNUGO_SEED_LIMIT - 1)),
    "goengine": (Param("weights", str), Param("lee", str), Param("lambda", float, 0, 1),
                 Param("lee_search", str, choices=("puct", "rave")), Param("playouts", int, 1),
                 Param("seconds", float, 0, low_open=True),
                 Param("threads", int, 1), Param("engine", str, default="mcts", choices=("mcts", "random")),
                 Param("inference", str, default="torch", choices=("torch", "ort", "ort-int8")),
                 Param("seed", int, 0, checks.SEED_LIMIT - 1), Param("search", str), Param("root_policy", str),
                 Param("dynkomi", int, 0), Param("playout_policy", str)),
    "gtp": (Param("command", str),),
}
"""kind -> the keys it takes, in canonical order."""
REQUIRED = {"katago": ("visits",), "gtp": ("command",)}
"""kind -> keys without which the kind cannot run."""
SCORING_IS_A_SEARCH = frozenset({"katago"})
"""Kinds whose GTP `final_score` runs a search (KataGo's takes about a minute): a referee scores their
games itself."""

_KIND = re.compile(r"[A-Za-z][A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Opponent:
    """A checked opponent: `kind` (a key of PARAMS) and `params`, the values that differ from the defaults
    (read with `get`, which falls back to them). Built from typed values; `parse_opponent` reads text."""

    kind: str
    params: Mapping[str, object]

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(_normalise(self.kind, dict(self.params))))

    def get(self, name: str):
        """The value of `name`, or its default."""
        if name in self.params:
            return self.params[name]
        return _param(self.kind, name).default

    def __hash__(self) -> int:
        return hash((self.kind, tuple(self.params.items())))

    def __eq__(self, other) -> bool:
        return isinstance(other, Opponent) and (self.kind, dict(self.params)) == (other.kind, dict(other.params))

    def __str__(self) -> str:
        if self.kind == "gtp":
            line = self.params["command"]  # inside "...", shlex takes only \\ and \" as special
            return f'gtp:"{line}"' if not set(line) & {'"', "\\"} else "gtp:" + shlex.quote(line)
        if not self.params:
            return self.kind
        return self.kind + ":" + ",".join(f"{k}={_show(v)}" for k, v in self.params.items())

    def __repr__(self) -> str:
        return f"Opponent({str(self)!r})"

    def __reduce__(self):  # a mappingproxy does not pickle; Ray workers receive opponents by pickle
        return Opponent, (self.kind, dict(self.params))


def is_spec(text: str) -> bool:
    """Whether `text` is meant as a spec rather than a whole command line: a bare kind, or a word followed
    by ':' (an unknown word is then a bad spec, not a program called `katgo:visits=1`)."""
    word, colon, _ = text.strip().partition(":")
    return word in PARAMS or bool(colon and _KIND.fullmatch(word))


def parse_opponent(spec: str) -> Opponent:
    """The Opponent that `spec` names; ValueError of one line, starting with the spec, if it names none."""
    try:
        kind, _, rest = spec.strip().partition(":")
        if kind not in PARAMS:
            raise ValueError(f"unknown kind {kind!r}; kinds are {', '.join(PARAMS)}")
        if kind == "gtp":
            return Opponent(kind, {"command": _unquote(rest)} if rest.strip() else {})
        values: dict[str, object] = {}
        for item in rest.split(",") if rest.strip() else []:
            key, equals, text = (part.strip() for part in item.partition("="))
            if not equals or not key or not text:
                raise ValueError(f"{item.strip()!r} is not key=value")
            if key in values:
                raise ValueError(f"{key} is given twice")
            values[key] = _read(_param(kind, key), text)
        return Opponent(kind, values)
    except ValueError as e:
        raise ValueError(f"{spec!r}: {e}") from None


def command(opponent: Opponent, *, board_size: int, workdir: str) -> list[str]:
    """The argv that starts `opponent` as a GTP engine on a `board_size` board. `workdir` is a folder the
    caller owns for the run (KataGo's GTP config is written there). ValueError of one line if the engine
    cannot be started here (goengine.katago.KataGoMissing is one)."""
    kind, get = opponent.kind, opponent.get
    if kind == "gnugo":
        path = GNUGO_PATH if os.access(GNUGO_PATH, os.X_OK) else shutil.which("gnugo")
        if path is None:
            raise ValueError(f"GNU Go is neither at {GNUGO_PATH} nor on PATH (install the gnugo package)")
        argv = [path, "--mode", "gtp", "--chinese-rules", "--level", str(get("level"))]
        return argv + (["--seed", str(get("seed"))] if get("seed") is not None else [])
    if kind == "goengine":
        for key in ("weights", "root_policy", "playout_policy"):
            if get(key) is not None and not os.path.isfile(get(key)):
                raise ValueError(f"no weights file {get(key)}")
        if get("lee") is not None and not os.path.isdir(get("lee")):
            raise ValueError(f"no AlphaGo Lee run folder {get('lee')}")
        argv = [sys.executable, "-m", "goengine.cli", "gtp", "--size", str(board_size)]
        for name, value in opponent.params.items():  # each key is the `goengine gtp` flag of its name
            argv += [f"--{name.replace('_', '-')}", _show(value)]
        return argv
    if kind == "katago":
        from goengine.katago import KataGo, gtp_command  # KataGoMissing is a ValueError with its own line

        katago = KataGo.find(home=get("home"))
        return gtp_command(katago, board_size=board_size, visits=get("visits"), threads=get("threads"),
                           config_dir=workdir)
    return shlex.split(opponent.params["command"])  # gtp


def _unquote(text: str) -> str:
    """The command line in a gtp spec: `"prog --flag"` (one quoted word: the quotes hold the whole line)
    is `prog --flag`; anything else is the line itself."""
    try:
        words = shlex.split(text)
    except ValueError as e:  # no closing quotation
        raise ValueError(f"command: {e}") from None
    return words[0] if len(words) == 1 and text.strip()[:1] in ("'", '"') else text


def _param(kind: str, name: str) -> Param:
    if kind not in PARAMS:
        raise ValueError(f"unknown kind {kind!r}; kinds are {', '.join(PARAMS)}")
    for p in PARAMS[kind]:
        if p.name == name:
            return p
    raise ValueError(f"{kind} takes no {name!r}; it takes {', '.join(p.name for p in PARAMS[kind])}")


def _read(p: Param, text: str):
    """`text` as p's type (the range is checked by _normalise)."""
    if p.type is str:
        return text
    try:
        return p.type(text)
    except ValueError:
        kind = "an integer" if p.type is int else "a number"
        raise ValueError(f"{p.name} must be {kind}, not {text!r}") from None


def _check(p: Param, value):
    if p.type is int:
        return checks.integer(p.name, value, p.low, p.high)
    if p.type is float:
        return checks.number(p.name, value, p.low, p.high, low_open=p.low_open)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{p.name} must be a non-empty string, not {value!r}")
    if p.choices and value not in p.choices:
        raise ValueError(f"{p.name} must be one of {', '.join(p.choices)}, not {value!r}")
    return value


def _normalise(kind: str, values: dict) -> dict:
    """values checked, in table order, without the ones equal to their default; ValueError otherwise."""
    for name in values:
        _param(kind, name)
    out = {}
    for p in PARAMS[kind]:
        if p.name in values:
            value = _check(p, values[p.name])
            if value != p.default:
                out[p.name] = value
    missing = [name for name in REQUIRED.get(kind, ()) if name not in out]
    if missing:
        example = 'gtp:"/usr/games/gnugo --mode gtp"' if kind == "gtp" else f"{kind}:{missing[0]}=16"
        raise ValueError(f"{kind} needs {', '.join(missing)}, e.g. {example}")
    if kind == "gtp":
        try:
            argv = shlex.split(out["command"])
        except ValueError as e:  # no closing quotation
            raise ValueError(f"command: {e}") from None
        if not argv:
            raise ValueError("command is empty")
        out["command"] = shlex.join(argv)
    if kind == "goengine":
        if "playouts" in out and "seconds" in out:
            raise ValueError("playouts and seconds are exclusive: give one")
        if "weights" in out and "lee" in out:
            raise ValueError("weights and lee are exclusive: give one")
        if out.get("engine") == "random":
            search = [name for name in ("weights", "lee", "lambda", "lee_search", "playouts", "seconds", "threads", "inference",
                                        "search", "root_policy", "dynkomi", "playout_policy") if name in out]
            if search:
                raise ValueError(f"engine=random plays without a search: it takes no {', '.join(search)}")
        for key in ("lambda", "lee_search"):
            if key in out and "lee" not in out:
                raise ValueError(f"{key} is for an AlphaGo Lee player (lee=RUN_DIR)")
        if out.get("lee_search") == "rave" and out.get("lambda", 1) != 1:
            raise ValueError("lee_search=rave values leaves by the playouts alone: lambda 1, or no lambda")
        if "inference" in out and "weights" not in out:
            raise ValueError("inference is for a Zero net player (weights=W)")
        if "root_policy" in out and ("weights" in out or "lee" in out):
            raise ValueError("root_policy is for the playout engine; a net player has its net's priors")
        if "dynkomi" in out and ("weights" in out or "lee" in out):
            raise ValueError("dynkomi is for the playout engine; a net's value is trained at the real komi")
        if "playout_policy" in out and ("weights" in out or "lee" in out):
            raise ValueError("playout_policy is for the playout engine")
        if "search" in out:
            from goengine.mcts.search_config import SearchConfig  # numpy and numba, no torch: only when asked

            try:
                SearchConfig().overridden(out["search"])
            except ValueError as e:
                raise ValueError(str(e).replace("--search", "search", 1)) from None
    return out


def _show(value) -> str:
    """A value as it reads in a spec and on a command line: 1.0 -> '1', 0.5 -> '0.5'."""
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)
