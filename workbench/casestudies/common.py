"""What the case studies share: torch on a fixed number of threads.

Small torch models train fastest on one thread; on a shared machine a second thread that
waits for a busy core makes every step many times slower (measured: 9 ms against 114 ms
per step of the multi-task network under load 14 on 2 cores).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def torch_threads(n: int = 1) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)``; the previous setting is restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
