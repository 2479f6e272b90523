"""Stable, salted hashing of ids to uniform numbers: the same on every process and machine.

Python's built-in ``hash(str(x))`` is salted per process (PYTHONHASHSEED), so an
assignment built on it moves users between arms when a server restarts. Here a
string key (experiment name, salt) is hashed once with BLAKE2b and mixed with each
integer id by the SplitMix64 finaliser (Steele, Lea & Flood 2014), vectorised in
numpy's wrapping uint64 arithmetic.
"""

from __future__ import annotations

import hashlib

import numpy as np
from scipy.special import ndtri

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def key64(text: str) -> np.uint64:
    """64-bit key of a string (BLAKE2b, little-endian)."""
    return np.uint64(int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little"))


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser of uint64 values (a bijection with good avalanche)."""
    z = np.asarray(x, dtype=np.uint64) + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def ids_to_uint64(ids: np.ndarray) -> np.ndarray:
    """Integer ids as uint64 (two's complement for negatives); other ids through BLAKE2b of ``str(id)``."""
    arr = np.asarray(ids)
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64).view(np.uint64) if arr.dtype.kind == "i" else arr.astype(np.uint64)
    flat = [int(key64(str(x))) for x in arr.reshape(-1)]
    return np.array(flat, dtype=np.uint64).reshape(arr.shape)


def stable_uniform(key: str | np.ndarray, ids: np.ndarray) -> np.ndarray:
    """float64 uniforms in [0, 1) from (key, id); ``key`` a string or uint64 keys broadcasting against ``ids``."""
    k = key64(key) if isinstance(key, str) else np.asarray(key, dtype=np.uint64)
    with np.errstate(over="ignore"):
        h = splitmix64(splitmix64(ids_to_uint64(ids)) ^ k)
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / 2.0**53)


def stable_normal(key: str | np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Standard normal draws from (key, id) by the inverse normal CDF of ``stable_uniform``."""
    u = stable_uniform(key, ids)
    return ndtri(np.clip(u, 2.0**-54, 1.0 - 2.0**-53))
