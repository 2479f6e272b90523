"""Switching the served model behind the gateway with no failed request: promote, and roll back.

`rolling_switch` replaces the replicas one at a time: replica *i* is stopped (uvicorn finishes the
requests it holds and refuses new connections, and nginx sends those to the other replicas: a
refused connection is retried on the next upstream, see `workbench.serving.gateway`), a replica
serving the new model starts on the same port, and only once it answers ``/healthz`` with the new
version does the next replica go. At every moment at least one replica answers, so a client of the
gateway sees no failure; during the switch, answers come from both versions (each answer says
which in ``model_version``).

A rollback is the same switch back to the previous model: `Rollout` remembers the versions it
served and `rollback` restores the last one, in one call. Each replica keeps its features in
Redis under its own version's prefix (materialised on its first start), so switching back finds
the previous version's features in place. A switch whose new replica fails to start puts the
replicas already switched back on the current model, and raises: nothing changed.

For the replica processes of ``workbench serve --replicas N``, the commands ``workbench promote`` and
``workbench rollback`` run these switches (`workbench.serving.control`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class Rollout:
    """The replicas behind one gateway and the model history: ``start(model, port)`` returns a started
    replica (an object with ``stop()``) serving ``model`` on ``port``; ``ports`` are the gateway's upstreams."""

    start: Callable[[Any, int], Any]
    ports: list[int]
    model: Any
    replicas: list[Any] = field(default_factory=list)
    history: list[Any] = field(default_factory=list)
    switches: list[dict] = field(default_factory=list)

    def launch(self) -> Rollout:
        self.replicas = [self.start(self.model, port) for port in self.ports]
        return self

    def promote(self, model: Any) -> dict:
        """Switch every replica to ``model`` (rolling); the current model is kept for `rollback`."""
        self.history.append(self.model)
        try:
            return self._switch(model)
        except Exception:
            self.history.pop()
            raise

    def rollback(self) -> dict:
        """Switch back to the model served before the last promotion (one call)."""
        if not self.history:
            raise RuntimeError("rollback: no earlier model to go back to")
        out = self._switch(self.history[-1])
        self.history.pop()
        return out

    def _switch(self, model: Any) -> dict:
        """One replica at a time; a replica of ``model`` that fails to start puts every switched replica
        back on the current model (then the error propagates: nothing changed)."""
        t0 = time.perf_counter()
        for i, port in enumerate(self.ports):
            self.replicas[i].stop()
            try:
                self.replicas[i] = self.start(model, port)
            except Exception:
                for j in range(i + 1):
                    if j < i:
                        self.replicas[j].stop()
                    self.replicas[j] = self.start(self.model, self.ports[j])
                raise
        self.model = model
        out = {"version": getattr(model, "version", None), "seconds": time.perf_counter() - t0}
        self.switches.append(out)
        return out

    def stop(self) -> None:
        for r in self.replicas:
            r.stop()
        self.replicas = []
