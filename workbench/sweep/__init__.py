"""Parameter sweeps on Dask: the same code on a laptop's LocalCluster and on a cluster's scheduler.

- ``spec``: sweep files (grid and random samples over any config field by dotted path, seeds, metrics).
- ``runner``: `run_sweep` on ``dask.distributed`` (LocalCluster by default, ``scheduler=`` an address).
- ``tasks``: what runs on a worker: one fit per upstream config, a per-worker cache of fitted
  pipelines and ranked candidates, one stage-3 + metrics task per config × seed.
- ``evaluation``: the metric table, computed as ``workbench evaluate`` computes it.
- ``results``: resumable parquet results, one row per config × seed.
- ``frontier``: per-config means, the Pareto frontier, the best config under constraints (the function
  ``frontier.frontier`` is not re-exported, so that ``workbench.sweep.frontier`` stays the submodule).
- ``export``: the winning config as a pipeline TOML.
- ``studies``: the simulation studies (A/A, power, sensitivity, off-policy) as sweep tasks.
- ``cache``: the per-worker-process cache both ``tasks`` and ``studies`` keep their shared values in.

Needs the ``sweep`` extra (``pip install -e '.[sweep]'``: dask[distributed], pyarrow).
"""

from workbench.sweep.evaluation import METRICS, evaluation_users, metric_table, wide_row
from workbench.sweep.export import config_to_toml, export_config, row_config
from workbench.sweep.frontier import best, pareto_mask, parse_query, summarise
from workbench.sweep.progress import NotebookBar, TerminalBar
from workbench.sweep.results import ResultStore, read_results
from workbench.sweep.runner import SweepRun, connect, run_sweep
from workbench.sweep.spec import SweepError, SweepSpec, Trial, load_sweep, parse_sweep

__all__ = [
    "METRICS", "NotebookBar", "ResultStore", "SweepError", "SweepRun", "SweepSpec", "TerminalBar", "Trial", "best",
    "config_to_toml", "connect", "evaluation_users", "export_config", "load_sweep", "metric_table",
    "pareto_mask", "parse_query", "parse_sweep", "read_results", "row_config", "run_sweep", "summarise", "wide_row",
]  # fmt: skip
