"""Rule sets: how ko repetition and suicide are judged. Scoring is always Tromp-Taylor area.

    name            ko rule                 suicide
    chinese         positional superko      forbidden      (the default)
    tromp-taylor    positional superko      allowed (any size, single stones included)
    new-zealand     situational superko     allowed
    aga             situational superko     forbidden
    japanese        simple ko               forbidden      (area-scored here; long cycles are allowed)
    simple-ko       simple ko               forbidden      (GNU Go's default rules, for differential tests)
"""
from __future__ import annotations

from dataclasses import dataclass

KO_RULES = ("simple", "positional", "situational")


@dataclass(frozen=True)
class Rules:
    ko: str = "positional"
    """"simple" (only the immediate recapture is banned), "positional" or "situational" superko."""
    suicide: bool = False
    """Whether a move that leaves its own chain without liberties is allowed (the chain is removed)."""
    name: str = "chinese"
    """The rule set's name, written to SGF RU[]."""

    def __post_init__(self):
        if self.ko not in KO_RULES:
            raise ValueError(f"unknown ko rule {self.ko!r}; expected one of {', '.join(KO_RULES)}")

    @property
    def superko_code(self) -> int:
        """0 none, 1 positional, 2 situational: the code the kernels take."""
        return KO_RULES.index(self.ko)


RULESETS = {
    "chinese": Rules("positional", False, "chinese"),
    "tromp-taylor": Rules("positional", True, "tromp-taylor"),
    "new-zealand": Rules("situational", True, "new-zealand"),
    "aga": Rules("situational", False, "aga"),
    "japanese": Rules("simple", False, "japanese"),
    "simple-ko": Rules("simple", False, "simple-ko"),
}


def rules_from(value: str | Rules) -> Rules:
    """A Rules from a Rules or a rule set name (case-insensitive; "nz" and "tt" are accepted)."""
    if isinstance(value, Rules):
        return value
    key = str(value).strip().lower().replace("_", "-").replace(" ", "-")
    key = {"nz": "new-zealand", "tt": "tromp-taylor", "tromp": "tromp-taylor"}.get(key, key)
    if key not in RULESETS:
        raise ValueError(f"unknown rules {value!r}; expected one of {', '.join(RULESETS)}")
    return RULESETS[key]
