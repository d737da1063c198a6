"""A slow, obviously correct Go board in pure Python: the oracle for the numba board.

Everything is recomputed from scratch by flood fill on a dict of stones; nothing is incremental.
Simple ko is the classical rule "a move may not recreate the position before the opponent's last move";
superko keeps the set of every earlier position (with the side to move, for situational superko).
"""
from __future__ import annotations

import random

LETTERS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"


class RefBoard:
    def __init__(self, size: int, ko: str = "simple", suicide: bool = False):
        self.size, self.ko, self.suicide = size, ko, suicide
        self.stones: dict[tuple[int, int], str] = {}  # (row, col) -> "b"/"w"
        self.to_play = "b"
        self.captures = {"b": 0, "w": 0}
        self.previous: list[tuple] = []  # boards before each move, oldest first
        self.last_was_pass = False
        self.seen = {(self.key(), "b")}

    def key(self) -> tuple:
        return tuple(sorted(self.stones.items()))

    def neighbours(self, pt):
        r, c = pt
        for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= rr < self.size and 0 <= cc < self.size:
                yield rr, cc

    def chain(self, stones, pt):
        colour = stones[pt]
        todo, seen = [pt], {pt}
        while todo:
            q = todo.pop()
            for n in self.neighbours(q):
                if n not in seen and stones.get(n) == colour:
                    seen.add(n)
                    todo.append(n)
        return seen

    def liberties(self, stones, group):
        return {n for q in group for n in self.neighbours(q) if n not in stones}

    def after(self, pt, colour):
        """(new stones, captured count, suicided count) or None if occupied / forbidden suicide."""
        if pt in self.stones:
            return None
        stones = dict(self.stones)
        stones[pt] = colour
        other = "w" if colour == "b" else "b"
        captured = 0
        for n in self.neighbours(pt):
            if stones.get(n) == other:
                group = self.chain(stones, n)
                if not self.liberties(stones, group):
                    for q in group:
                        del stones[q]
                    captured += len(group)
        own = self.chain(stones, pt)
        suicided = 0
        if not self.liberties(stones, own):
            if not self.suicide:
                return None
            for q in own:
                del stones[q]
            suicided = len(own)
        return stones, captured, suicided

    def legal(self, pt, colour=None) -> bool:
        colour = colour or self.to_play
        if pt is None:
            return True
        res = self.after(pt, colour)
        if res is None:
            return False
        key = tuple(sorted(res[0].items()))
        other = "w" if colour == "b" else "b"
        # classical ko: the side to move may not recreate the position before the opponent's last move
        if colour == self.to_play and self.previous and not self.last_was_pass and key == self.previous[-1]:
            return False
        if self.ko == "positional" and any(k == key for k, _ in self.seen):
            return False
        if self.ko == "situational" and (key, other) in self.seen:
            return False
        return True

    def play(self, pt, colour=None):
        colour = colour or self.to_play
        other = "w" if colour == "b" else "b"
        if pt is None:
            self.previous.append(self.key())
            self.last_was_pass = True
        else:
            assert self.legal(pt, colour)
            stones, captured, suicided = self.after(pt, colour)
            self.previous.append(self.key())
            self.stones = stones
            self.captures[colour] += captured
            self.captures[other] += suicided
            self.last_was_pass = False
        self.to_play = other
        self.seen.add((self.key(), self.to_play))

    def legal_points(self):
        return [(r, c) for r in range(self.size) for c in range(self.size) if self.legal((r, c))]

    def area(self) -> int:
        """Tromp-Taylor: Black minus White."""
        score = sum(1 if c == "b" else -1 for c in self.stones.values())
        seen = set()
        for r in range(self.size):
            for c in range(self.size):
                pt = (r, c)
                if pt in self.stones or pt in seen:
                    continue
                region, reach, todo = {pt}, set(), [pt]
                while todo:
                    q = todo.pop()
                    for n in self.neighbours(q):
                        if n in self.stones:
                            reach.add(self.stones[n])
                        elif n not in region:
                            region.add(n)
                            todo.append(n)
                seen |= region
                if reach == {"b"}:
                    score += len(region)
                elif reach == {"w"}:
                    score -= len(region)
        return score


def vertex(pt) -> str:
    return "pass" if pt is None else f"{LETTERS[pt[1]]}{pt[0] + 1}"


def random_move(ref: RefBoard, rng: random.Random, pass_prob: float = 0.02):
    """A uniformly random legal point of the side to move, or None (pass) now and then or when stuck."""
    legal = ref.legal_points()
    return None if (not legal or rng.random() < pass_prob) else rng.choice(legal)
