"""Torch modules that the model store can rebuild without pickle.

A stored torch model is its ``state_dict`` (loaded with ``weights_only=True``) plus the
constructor arguments that give the tensors their shapes. ``@rebuildable`` on an
``nn.Module`` subclass records those arguments at construction (``module._init_args``);
the store writes them as JSON and, on load, calls the same constructor with them and
loads the weights. Decorate every top-level module a fitted object keeps; sub-modules
travel inside its state_dict.
"""

from __future__ import annotations

import functools
from typing import TypeVar

T = TypeVar("T", bound=type)


def rebuildable(cls: T) -> T:
    """Record ``(args, kwargs)`` of each construction of ``cls`` in ``instance._init_args``."""
    init = cls.__init__

    @functools.wraps(init)
    def __init__(self, *args, **kwargs) -> None:
        init(self, *args, **kwargs)
        if type(self) is cls:  # a subclass records its own arguments
            object.__setattr__(self, "_init_args", (args, kwargs))

    cls.__init__ = __init__
    return cls
