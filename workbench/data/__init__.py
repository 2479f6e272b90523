"""Data sets and splits: the synthetic default world and MovieLens-100K over one `Dataset` type."""

from workbench.data.dataset import Dataset
from workbench.data.movielens import DataFileError, fetch_movielens_100k, load_movielens_100k
from workbench.data.splits import SPLITS, leave_last_out, random_split, split, temporal_split, time_cut_split
from workbench.data.synthetic import SyntheticConfig, SyntheticTruth, make_synthetic

DATASETS = ("synthetic", "movielens-100k")


def load(name: str = "synthetic", cache_dir: str = "data", seed: int = 0) -> Dataset:
    """Load a data set by name: ``synthetic`` (the embedded default) or ``movielens-100k``."""
    if name == "synthetic":
        return make_synthetic(seed=seed)
    if name in ("movielens-100k", "ml-100k", "movielens"):
        return load_movielens_100k(cache_dir)
    raise ValueError(f"unknown data set {name!r}: expected one of {DATASETS}")


__all__ = [
    "DATASETS", "DataFileError", "Dataset", "SPLITS", "SyntheticConfig", "SyntheticTruth", "fetch_movielens_100k",
    "leave_last_out", "load", "load_movielens_100k", "make_synthetic", "random_split", "split", "temporal_split",
    "time_cut_split",
]  # fmt: skip
