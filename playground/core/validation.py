"""Checking numbers that arrive from sliders, JSON bodies and config files, by one rule.

Sliders and JSON send whole numbers as floats (128.0), so an integral float counts as the
integer it equals; 32.5, text such as "12" and booleans (True would pass as 1) are refused.
Every refusal names the field, the range it must be in, and a hint on what to pick.
"""

from __future__ import annotations

import math
from dataclasses import fields
from numbers import Integral, Real
from typing import Any

from playground.core.errors import InvalidInputError


def whole_number(name: str, value: Any, low: int, high: int, hint: str) -> int:
    """``value`` as an int in ``[low, high]``, or an :class:`InvalidInputError` that says why not."""
    whole = _is_whole(value)
    if whole and low <= value <= high:
        return int(value)
    shown = f"{value:,}" if whole else repr(value)
    raise InvalidInputError(f"{name} must be a whole number from {low:,} to {high:,}, got {shown} ({hint}).")


def number(name: str, value: Any, low: float, high: float, hint: str, *,
           low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a float between ``low`` and ``high`` (each bound excluded when ``*_open``)."""
    if not _is_number(value) or (not isinstance(value, Integral) and math.isnan(value)):
        raise InvalidInputError(f"{name} must be a number, got {value!r} ({hint}).")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        lower = f"above {low}" if low_open else f"at least {low}"
        upper = f"below {high}" if high_open else f"at most {high}"
        raise InvalidInputError(f"{name} must be {lower} and {upper}, got {value} ({hint}).")
    return float(value)


def _is_whole(value: Any) -> bool:
    """An int, or a float with nothing after the point (never converting a huge int to float)."""
    return _is_number(value) and (isinstance(value, Integral) or float(value).is_integer())


def _is_number(value: Any) -> bool:
    """An int or float (numpy's too), not a bool (True would pass as 1) and not text like "0.1"."""
    return isinstance(value, Real) and not isinstance(value, bool)


def settings_object(cls: type, data: Any) -> dict[str, Any]:
    """``data`` checked as the settings of the dataclass ``cls``: a JSON object whose keys are all its fields
    (a config file or an API body may hold anything); each run kind's ``from_dict`` starts here."""
    if not isinstance(data, dict):  # a config file or API body holding a list, a number, null...
        raise InvalidInputError(f"Settings must be a JSON object of named values, got {type(data).__name__}.")
    known = {field.name for field in fields(cls)}
    unknown = sorted(str(key) for key in data if key not in known)
    if unknown:
        raise InvalidInputError(f"Unknown setting(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}.")
    return data
