"""Validation of configuration arguments, shared by every constructor.

An error says which argument is wrong and what it should be, never the value
that was passed: a secret given to the wrong argument must not reach an error
message, and from there a log.
"""

from __future__ import annotations

import math
from typing import Literal, overload

__all__ = ["number", "type_name"]


def type_name(value: object) -> str:
    """``a str``, ``an int``: the passed value's type, which is safe to show."""
    name = type(value).__name__
    return f"an {name}" if name[:1] in "aeiou" else f"a {name}"


@overload
def number(name: str, value: object, *, integer: Literal[True], minimum: float) -> int: ...
@overload
def number(name: str, value: object, *, minimum: float = 0.0, exclusive: bool = True) -> float: ...


def number(
    name: str,
    value: object,
    *,
    integer: bool = False,
    minimum: float = 0.0,
    exclusive: bool = True,
) -> float | int:
    """``value`` as a finite float of seconds (or an int, with ``integer=True``) above ``minimum``.

    Seconds must exceed ``minimum`` (``exclusive``) or reach it; integers must reach it.

    Raises:
        TypeError: not a real number (a ``bool`` is not one), or not an int when asked for.
        ValueError: out of range, or not finite.
    """
    if integer:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, not {type_name(value)}")
        if value < minimum:
            raise ValueError(f"{name} must be >= {minimum:g}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type_name(value)}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < minimum or (exclusive and seconds == minimum):
        bound = ">" if exclusive else ">="
        raise ValueError(f"{name} must be a finite number of seconds {bound} {minimum:g}")
    return seconds
