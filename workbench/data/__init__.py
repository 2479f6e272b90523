"""Data sets and splits: the synthetic default world and MovieLens-100K over one `Dataset` type."""

from workbench.data.dataset import Dataset
from workbench.data.movielens import DataFileError, fetch_movielens_100k, load_movielens_100k
from workbench.data.splits import SPLITS, leave_last_out, random_split, split, temporal_split, time_cut_split
from workbench.data.synthetic import SyntheticConfig, SyntheticTruth, make_synthetic

DATASETS = ("synthetic", "movielens-100k")
ALIASES = {"ml-100k": "movielens-100k", "movielens": "movielens-100k"}
# The small synthetic world: tests, CI and quick looks (``--small`` / ``WORKBENCH_SMALL=1``).
SMALL_WORLD = {"n_users": 400, "n_items": 300, "impressions_per_user": 120}


def dataset_name(name: str) -> str:
    """The canonical name of a data set (``ml-100k`` → ``movielens-100k``); ValueError for unknown names."""
    canonical = ALIASES.get(name, name)
    if canonical not in DATASETS:
        raise ValueError(f"unknown data set {name!r}: expected one of {DATASETS}")
    return canonical


def load(name: str = "synthetic", cache_dir: str = "data", seed: int = 0, small: bool = False) -> Dataset:
    """Load a data set by name: ``synthetic`` (the embedded default, world drawn with ``seed``;
    ``small`` shrinks it to ``SMALL_WORLD``) or ``movielens-100k`` (``seed`` and ``small`` do not apply)."""
    name = dataset_name(name)
    if name == "synthetic":
        return make_synthetic(seed=seed, **(SMALL_WORLD if small else {}))
    return load_movielens_100k(cache_dir)


__all__ = [
    "ALIASES", "DATASETS", "DataFileError", "Dataset", "SPLITS", "SMALL_WORLD", "SyntheticConfig", "SyntheticTruth", "dataset_name", "fetch_movielens_100k",
    "leave_last_out", "load", "load_movielens_100k", "make_synthetic", "random_split", "split", "temporal_split",
    "time_cut_split",
]  # fmt: skip
