"""Leela Zero's analysis extension of GTP, as Sabaki and Lizzie read it:

    lz-analyze [colour] [interval] [interval N] [maxmoves N]
    =
    info move D4 visits 120 winrate 5312 prior 1840 lcb 5020 order 0 pv D4 Q16 ... info move Q16 ...
    info move ...                                   (one line per interval, every candidate on it)
                                                    (blank line when the next command arrives)

winrate, prior and lcb are integers in units of 1/10000, for the side analysed; the interval is in
centiseconds (KataGo's `interval N` form is accepted too). `lz-genmove_analyze` streams the same lines
while the move is chosen and ends with `play MOVE`. See goengine/gtp/engine.py for streaming.
"""
from __future__ import annotations

import time

from goengine.gtp import engine as gtp
from goengine.gtp.engine import GtpError
from goengine.players import AnalysisMove

DEFAULT_INTERVAL_CS = 100  # lz-analyze without an interval: one line a second


def format_lz_info(candidates: list[AnalysisMove]) -> str:
    """One Leela Zero analysis line: for each candidate, in order,
    `info move D4 visits N winrate W prior P lcb L order K pv D4 E5 ...` with winrate, prior and lcb as
    integers in units of 1/10000 (lcb clamped at 0, as Leela Zero does)."""

    def permyriad(x: float) -> int:
        return min(10000, max(0, int(round(float(x) * 10000))))

    parts = []
    for order, c in enumerate(candidates):
        pv = " ".join(c.pv or [c.move])
        parts.append(f"info move {c.move} visits {int(c.visits)} winrate {permyriad(c.winrate)} "
                     f"prior {permyriad(c.prior)} lcb {permyriad(c.lcb)} order {order} pv {pv}")
    return " ".join(parts)


class AnalysisCommands:
    """The lz-* commands, mixed into GoHandlers: they use its `position`, `player` and `clock` and its
    `_colour_arg`, `_live_position`, `_budget` and `_commit`."""

    def _analyze_args(self, args: list[str]) -> tuple[str, float, int | None]:
        """`[colour] [interval]` and KataGo-style `interval N`, `maxmoves N` pairs. Interval in
        centiseconds."""
        colour, interval_cs, max_moves = self.position.to_play, DEFAULT_INTERVAL_CS, None
        rest = list(args)
        if rest and rest[0].lower() in ("b", "w", "black", "white"):
            colour = self._colour_arg(rest.pop(0))
        if rest and rest[0].isdigit():
            interval_cs = int(rest.pop(0))
        while rest:
            if len(rest) < 2 or rest[0] not in ("interval", "maxmoves", "minmoves"):
                raise GtpError(gtp.SYNTAX_ERROR)
            key, value = rest.pop(0), gtp.number(rest.pop(0), int)
            if key == "interval":
                interval_cs = value
            elif key == "maxmoves":
                max_moves = value
        return colour, max(1, interval_cs) / 100.0, max_moves

    def lz_analyze(self, args: list[str], out: gtp.Stream) -> None:
        colour, interval_s, max_moves = self._analyze_args(args)
        out.open()

        def report(candidates: list[AnalysisMove]) -> bool:
            out.line(format_lz_info(candidates[:max_moves]))
            return not out.interrupted()

        self.player.analyze(self._live_position(), colour, report, interval_s)
        out.wait_for_input()

    def lz_genmove_analyze(self, args: list[str], out: gtp.Stream) -> None:
        """Analysis lines while the move is chosen, then `play MOVE`. A player with a
        `genmove_analyze(position, colour, budget, report, interval_s)` method streams its own search;
        for others one analysis report is streamed, then genmove decides."""
        colour, interval_s, max_moves = self._analyze_args(args)
        out.open()
        position = self._live_position()

        def report(candidates: list[AnalysisMove]) -> bool:
            out.line(format_lz_info(candidates[:max_moves]))
            return False if own is None else not out.interrupted()

        own = getattr(self.player, "genmove_analyze", None)
        started = time.monotonic()
        if own is not None:
            move = str(own(position, colour, self._budget(colour, position), report, interval_s))
        else:
            self.player.analyze(position, colour, report, interval_s)
            move = str(self.player.genmove(position, colour, self._budget(colour, position)))
        self.clock.spend(colour, time.monotonic() - started)
        vertex = self._commit(position, colour, move)
        out.line(f"play {vertex}")
        if vertex != "resign":
            self._start_pondering()
