"""Data sets and splits: the synthetic default world, MovieLens-100K and your own interaction files
(`workbench.data.files`: CSV, TSV or Parquet named by path) over one `Dataset` type."""

from workbench.data.dataset import Dataset
from workbench.data.movielens import DataFileError, fetch_movielens_100k, load_movielens_100k
from workbench.data.splits import SPLITS, leave_last_out, random_split, split, temporal_split, time_cut_split
from workbench.data.synthetic import SyntheticConfig, SyntheticTruth, make_synthetic

from workbench.data.movielens_family import ALIASES as FAMILY_ALIASES
from workbench.data.movielens_family import FAMILY, load_movielens

DATASETS = ("synthetic", "movielens-100k", *FAMILY)
ALIASES = {"ml-100k": "movielens-100k", "movielens": "movielens-100k", **FAMILY_ALIASES}
# The small synthetic world: tests, CI and quick looks (``--small`` / ``WORKBENCH_SMALL=1``).
SMALL_WORLD = {"n_users": 400, "n_items": 300, "impressions_per_user": 120}


def is_file(name: str) -> bool:
    """Whether ``name`` (a canonical data name) is a file reference rather than a named data set."""
    return ALIASES.get(name, name) not in DATASETS


def dataset_name(name: str) -> str:
    """The canonical name of a data set (``ml-100k`` → ``movielens-100k``; a file reference → its canonical
    text, see `workbench.data.files.FileSource`); ValueError for unknown names and missing files."""
    from workbench.data.files import FileSource, looks_like_path

    canonical = ALIASES.get(name, name)
    if canonical in DATASETS:
        return canonical
    if looks_like_path(name):
        return FileSource.parse(name).text
    raise ValueError(f"unknown data set {name!r}: expected one of {DATASETS} or the path of a CSV, TSV or "
                     "Parquet file of interactions")


def expected_counts(name: str) -> dict[str, int]:
    """The published sizes of a named real data set (``interactions``, ``users``, ``items``)."""
    from workbench.data.movielens import EXPECTED_COUNTS

    if dataset_name(name) == "movielens-100k":
        return EXPECTED_COUNTS
    raise ValueError(f"{name!r} has no published sizes here; expected movielens-100k")


def load(name: str = "synthetic", cache_dir: str = "data", seed: int = 0, small: bool = False) -> Dataset:
    """Load a data set by name: ``synthetic`` (the embedded default, world drawn with ``seed``;
    ``small`` shrinks it to ``SMALL_WORLD``), ``movielens-100k`` or a file reference (a path; checked
    before anything else, see `workbench.data.files`) (``seed`` and ``small`` apply to synthetic only)."""
    name = dataset_name(name)
    if is_file(name):
        from workbench.data.files import load_file

        return load_file(name)
    if name == "synthetic":
        return make_synthetic(seed=seed, **(SMALL_WORLD if small else {}))
    if name in FAMILY:
        return load_movielens(name, cache_dir)
    return load_movielens_100k(cache_dir)


__all__ = [
    "ALIASES", "DATASETS", "FAMILY", "SMALL_WORLD", "SPLITS", "DataFileError", "Dataset", "SyntheticConfig",
    "SyntheticTruth", "dataset_name", "expected_counts", "fetch_movielens_100k", "is_file", "leave_last_out", "load",
    "load_movielens", "load_movielens_100k", "make_synthetic", "random_split", "split", "temporal_split",
    "time_cut_split",
]  # fmt: skip
