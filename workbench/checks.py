"""Argument checks shared across the package: each raises ValueError naming the value and what was expected."""

from __future__ import annotations

import numbers

import numpy as np


def check_unit_interval(name: str, value: float) -> float:
    """``value`` as a float in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    return float(value)


def check_count(name: str, value: int, least: int = 0) -> int:
    """``value`` as an int >= ``least`` (integral floats such as 3.0 pass; bools do not)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or int(value) != value or value < least:
        raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    return int(value)
