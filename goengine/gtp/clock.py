"""Game clocks for GTP's time commands and the seconds a move may take.

Time systems, as GTP 2 (section 4.2, `time_settings`/`time_left`) and KGS's `kgs-time_settings` name them:

    kind       main time   then                                         GTP time_left "stones" field
    none       -           no limit                                     -
    absolute   main_s      nothing: the game is lost when it runs out   0
    byoyomi    main_s      `periods` periods of period_s each; a move   periods left (KGS's convention,
                           within a period restores it, an overrun      followed by Leela Zero and
                           uses it up                                   KataGo)
    canadian   main_s      period_s for every `stones` moves            stones left in the period

`time_settings main byo stones` is canadian, except byo = 0 (absolute) and byo > 0 with stones = 0 (no
limit), per the spec. The engine keeps its own account by `spend`, and the controller's `time_left`
overrides it whenever it comes.
"""
from __future__ import annotations

from dataclasses import dataclass

KINDS = ("none", "absolute", "byoyomi", "canadian")
SAFETY_FRACTION = 0.9  # of the time a move may use: pipes, process scheduling and the referee's clock
LAG_S = 0.25  # subtracted from every budget for the same reason
MIN_MOVE_S = 0.02  # never ask a player for less than this


@dataclass(frozen=True)
class TimeControl:
    kind: str = "none"
    """One of KINDS."""
    main_s: float = 0.0
    """Main time in seconds."""
    period_s: float = 0.0
    """Byo-yomi period (byoyomi) or the time for `stones` moves (canadian), in seconds."""
    stones: int = 0
    """Canadian: moves to play in each period."""
    periods: int = 0
    """Japanese byo-yomi: number of periods."""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown time system {self.kind!r}; expected one of {', '.join(KINDS)}")
        if min(self.main_s, self.period_s, self.stones, self.periods) < 0:
            raise ValueError("time settings must not be negative")

    @classmethod
    def from_gtp(cls, main_s: float, byo_s: float, stones: int) -> "TimeControl":
        """GTP `time_settings main_time byo_yomi_time byo_yomi_stones` (spec 4.2)."""
        if byo_s > 0 and stones == 0:
            return cls("none")
        if byo_s == 0:
            return cls("absolute", main_s)
        return cls("canadian", main_s, byo_s, stones)


@dataclass
class ColourClock:
    """One side's account."""

    main_s: float
    period_s: float  # left in the current period
    stones: int  # canadian: moves left in the period; byoyomi: periods left
    in_overtime: bool = False


class Clock:
    """Both sides' accounts under one TimeControl."""

    def __init__(self, control: TimeControl | None = None):
        self.control = control or TimeControl()
        self.sides: dict[str, ColourClock] = {}
        self.reset()

    def reset(self) -> None:
        """Full time for both sides (new game or new settings)."""
        c = self.control
        overtime_units = c.periods if c.kind == "byoyomi" else c.stones
        self.sides = {colour: ColourClock(c.main_s, c.period_s, overtime_units) for colour in "bw"}

    def set_control(self, control: TimeControl) -> None:
        self.control = control
        self.reset()

    def time_left(self, colour: str, seconds: float, stones: int) -> None:
        """GTP `time_left`: `stones` = 0 means still in main time."""
        side = self.sides[colour]
        if stones == 0 or self.control.kind in ("none", "absolute"):
            side.main_s, side.in_overtime = seconds, False
            side.period_s = self.control.period_s
        else:
            side.main_s, side.period_s, side.stones, side.in_overtime = 0.0, seconds, stones, True

    def spend(self, colour: str, seconds: float) -> None:
        """Charge a move that took `seconds` to `colour`."""
        c, side = self.control, self.sides[colour]
        if c.kind == "none":
            return
        if not side.in_overtime:
            used = min(seconds, side.main_s)
            side.main_s -= used
            seconds -= used
            if side.main_s > 0 or c.kind == "absolute":
                return
            side.in_overtime = True  # main time ran out during this move: the rest counts as overtime
            side.period_s = c.period_s
            side.stones = c.periods if c.kind == "byoyomi" else c.stones
        if c.kind == "byoyomi":
            while seconds > side.period_s and side.stones > 0:
                seconds -= side.period_s
                side.stones -= 1  # an overrun period is used up; the next one starts full
            side.period_s = c.period_s
        else:  # canadian
            side.period_s = max(0.0, side.period_s - seconds)
            side.stones -= 1
            if side.stones <= 0:
                side.period_s, side.stones = c.period_s, c.stones

    def budget(self, colour: str, moves_left: int) -> float | None:
        """Seconds the next move of `colour` may take, or None without a limit. `moves_left` is the
        caller's estimate of the moves this side still has to play (it knows the game; we do not)."""
        c, side = self.control, self.sides[colour]
        moves_left = max(1, moves_left)
        if c.kind == "none":
            return None
        if c.kind == "absolute":
            raw = side.main_s / moves_left
        elif c.kind == "byoyomi":
            # in main time a move may also take a whole period: what spills over lands in a period,
            # and a period used within is restored
            raw = max(side.main_s / moves_left, c.period_s) if not side.in_overtime else side.period_s
        elif not side.in_overtime:  # canadian, main time: a spill lands in a period meant for `stones`
            raw = max(side.main_s / moves_left, c.period_s / c.stones if c.stones else 0.0)
        else:
            raw = side.period_s / max(1, side.stones)
        return max(MIN_MOVE_S, raw * SAFETY_FRACTION - LAG_S)
