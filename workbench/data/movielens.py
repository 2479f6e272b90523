"""MovieLens-100K (Harper & Konstan 2015): 100,000 ratings by 943 users of 1,682 films.

Reads the cache under ``cache_dir`` in either layout:

- GroupLens: ``ml-100k/u.data``, ``u.item``, ``u.user`` (the original archive);
- RecBole atomic files: ``ml-100k/ml-100k.inter``, ``.item``, ``.user``.

When neither is there, it fetches the GroupLens archive (MD5-checked) and, where
that host cannot be reached, the PyPI wheel ``recbole==1.2.1`` (SHA-256-checked),
from which only the three data files are extracted. The data's licence forbids
redistribution, so it is cached locally and never committed.

What is synthesised (the data set has no such fields), deterministically from the
item id so every run and machine agrees: ``available`` (about 95% of items) and
``promoted`` (about 2%). Release dates are taken as 1 January of the release year
(RecBole keeps only the year); films without a year get the median year.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.data.dataset import SECONDS_PER_DAY, Dataset

GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
GROUPLENS_MD5 = "0e33842e24a9c977be4e0107933c0723"
RECBOLE_WHEEL = "recbole-1.2.1-py3-none-any.whl"
RECBOLE_SHA256 = "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407"
RECBOLE_DIR = "recbole/dataset_example/ml-100k/"
RECBOLE_FILES = ("ml-100k.inter", "ml-100k.item", "ml-100k.user")
GROUPLENS_FILES = ("u.data", "u.item", "u.user")
EXPECTED_COUNTS = {"interactions": 100_000, "users": 943, "items": 1682}  # the published sizes


class DataFileError(ValueError):
    """A data file is malformed; the message names the file and the line."""


def _parse(path: Path, sep: str, names: list[str], numeric: list[str], header: bool) -> pd.DataFrame:
    """Read a delimited file; raise DataFileError naming path and 1-based line on any malformed row."""
    try:
        df = pd.read_csv(
            path, sep=sep, header=None, names=names, skiprows=1 if header else 0, dtype=str,
            encoding="latin-1", keep_default_na=False, quoting=3, engine="c",
        )  # fmt: skip
    except pd.errors.ParserError as exc:
        raise DataFileError(f"{path}: malformed file ({exc})") from exc
    offset = 2 if header else 1
    for col in numeric:
        values = pd.to_numeric(df[col], errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy())
        if len(bad):
            row = int(bad[0])
            raise DataFileError(
                f"{path}, line {row + offset}: field {col!r} is {df[col].iloc[row]!r}, expected a number "
                f"(the file may be truncated or corrupted)"
            )
        df[col] = values
    return df


def _read_grouplens(root: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    inter = _parse(root / "u.data", "\t", ["user_id", "item_id", "rating", "timestamp"],
                   ["user_id", "item_id", "rating", "timestamp"], header=False)  # fmt: skip
    item_cols = ["item_id", "title", "release_date", "video_date", "url", *GENRES]
    items = _parse(root / "u.item", "|", item_cols, ["item_id", *GENRES], header=False)
    items["title"] = items["title"].str.replace(r"\s*\(\d{4}\)\s*$", "", regex=True)
    items["release_year"] = pd.to_numeric(items["release_date"].str[-4:], errors="coerce")
    users = _parse(root / "u.user", "|", ["user_id", "age", "gender", "occupation", "zip"], ["user_id", "age"],
                   header=False)  # fmt: skip
    return inter, items[["item_id", "title", "release_year", *GENRES]], users


def _read_recbole(root: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    inter = _parse(root / "ml-100k.inter", "\t", ["user_id", "item_id", "rating", "timestamp"],
                   ["user_id", "item_id", "rating", "timestamp"], header=True)  # fmt: skip
    items = _parse(root / "ml-100k.item", "\t", ["item_id", "title", "release_year", "class"], ["item_id"],
                   header=True)  # fmt: skip
    items["release_year"] = pd.to_numeric(items["release_year"], errors="coerce")
    tokens = items["class"].str.split(" ")
    for g in GENRES:
        items[g] = tokens.map(lambda ts, g=g: float(g in ts)).astype(np.float64)
    items.loc[items[list(GENRES)].sum(axis=1) == 0, "unknown"] = 1.0
    users = _parse(root / "ml-100k.user", "\t", ["user_id", "age", "gender", "occupation", "zip"],
                   ["user_id", "age"], header=True)  # fmt: skip
    return inter, items[["item_id", "title", "release_year", *GENRES]], users


def _find_cache(cache_dir: Path) -> tuple[str, Path] | None:
    for root in (cache_dir / "ml-100k", cache_dir):
        if all((root / f).is_file() for f in GROUPLENS_FILES):
            return "grouplens", root
        if all((root / f).is_file() for f in RECBOLE_FILES):
            return "recbole", root
    return None


def _fetch_grouplens(target: Path, timeout: float) -> None:
    with urllib.request.urlopen(GROUPLENS_URL, timeout=timeout) as resp:  # noqa: S310 (fixed https URL)
        blob = resp.read()
    digest = hashlib.md5(blob).hexdigest()  # noqa: S324 (GroupLens publishes MD5)
    if digest != GROUPLENS_MD5:
        raise DataFileError(f"{GROUPLENS_URL}: MD5 {digest} differs from the published {GROUPLENS_MD5}")
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        for name in GROUPLENS_FILES:
            (target / name).write_bytes(zf.read(f"ml-100k/{name}"))


def _fetch_recbole_wheel(target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, "recbole==1.2.1"]
        subprocess.run(cmd, check=True, capture_output=True, timeout=300)
        wheel = Path(tmp) / RECBOLE_WHEEL
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != RECBOLE_SHA256:
            raise DataFileError(f"{wheel.name}: SHA-256 {digest} differs from the expected {RECBOLE_SHA256}")
        with zipfile.ZipFile(wheel) as zf:
            for name in RECBOLE_FILES:
                (target / name).write_bytes(zf.read(RECBOLE_DIR + name))


def fetch_movielens_100k(cache_dir: str | os.PathLike = "data", timeout: float = 10.0) -> Path:
    """Make sure MovieLens-100K is cached under ``cache_dir/ml-100k``; return that folder."""
    cache = Path(cache_dir)
    found = _find_cache(cache)
    if found:
        return found[1]
    target = cache / "ml-100k"
    target.mkdir(parents=True, exist_ok=True)
    errors = []
    for fetch in (lambda: _fetch_grouplens(target, timeout), lambda: _fetch_recbole_wheel(target)):
        try:
            fetch()
            return target
        except (OSError, subprocess.SubprocessError, zipfile.BadZipFile, KeyError, DataFileError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    raise RuntimeError(
        "could not fetch MovieLens-100K from GroupLens or from the recbole==1.2.1 wheel on PyPI:\n  "
        + "\n  ".join(errors)
        + f"\nPlace u.data/u.item/u.user (or ml-100k.inter/.item/.user) in {target} by hand."
    )


def _synthesised_flag(item_ids: np.ndarray, salt: int, fraction: float) -> np.ndarray:
    """Deterministic pseudo-random flag per original item id (Knuth multiplicative hash)."""
    h = (item_ids.astype(np.uint64) * np.uint64(2654435761) + np.uint64(salt)) % np.uint64(2**32)
    return (h.astype(np.float64) / 2**32) < fraction


def load_movielens_100k(cache_dir: str | os.PathLike = "data", fetch: bool = True) -> Dataset:
    """Load MovieLens-100K as a Dataset (fetching it into ``cache_dir`` first if needed).

    Ratings 1-5 are kept as ``rating``; ``.matrix`` is the binary implicit view.
    The load report (duplicates collapsed, interactions with ids missing from the
    item or user table, users without interactions) is in ``dataset.notes["load_report"]``.
    """
    found = _find_cache(Path(cache_dir))
    if found is None:
        if not fetch:
            raise FileNotFoundError(f"MovieLens-100K is not cached under {Path(cache_dir).resolve()}")
        fetch_movielens_100k(cache_dir)
        found = _find_cache(Path(cache_dir))
    layout, root = found
    raw_inter, raw_items, raw_users = (_read_grouplens if layout == "grouplens" else _read_recbole)(root)
    return _build(raw_inter, raw_items, raw_users, source=f"{layout}:{root}")


def _build(raw_inter: pd.DataFrame, raw_items: pd.DataFrame, raw_users: pd.DataFrame, source: str) -> Dataset:
    report: dict[str, object] = {"source": source, "raw_interactions": len(raw_inter)}
    raw_items = raw_items.sort_values("item_id").drop_duplicates("item_id").reset_index(drop=True)
    raw_users = raw_users.sort_values("user_id").drop_duplicates("user_id").reset_index(drop=True)
    item_pos = pd.Index(raw_items["item_id"].astype(np.int64))
    user_pos = pd.Index(raw_users["user_id"].astype(np.int64))
    inter = pd.DataFrame(
        {
            "user": user_pos.get_indexer(raw_inter["user_id"].astype(np.int64)),
            "item": item_pos.get_indexer(raw_inter["item_id"].astype(np.int64)),
            "timestamp": raw_inter["timestamp"].astype(np.int64),
            "rating": raw_inter["rating"].astype(np.float32),
        }
    )
    unknown = (inter["user"] < 0) | (inter["item"] < 0)
    report["unknown_id_interactions"] = int(unknown.sum())
    if unknown.any():
        report["unknown_id_examples"] = raw_inter.loc[unknown.to_numpy(), ["user_id", "item_id"]].head(5).to_dict("records")
    inter = inter[~unknown]
    dup = inter.duplicated(["user", "item"], keep="last")
    report["duplicate_interactions_collapsed"] = int(dup.sum())
    inter = inter[~dup]
    n_users = len(raw_users)
    report["users_without_interactions"] = int(n_users - inter["user"].nunique())

    reference_ts = int(inter["timestamp"].max())
    year = raw_items["release_year"].astype(np.float64)
    year = year.fillna(np.nanmedian(year)).astype(np.int64)
    release_ts = pd.to_datetime(pd.DataFrame({"year": year, "month": 1, "day": 1})).astype("datetime64[s]").astype("int64")
    genres = raw_items[list(GENRES)].to_numpy(np.float32)
    ids = raw_items["item_id"].to_numpy(np.int64)
    items = pd.DataFrame(
        {
            "item_id": ids,
            "title": raw_items["title"].to_numpy(),
            "category": genres.argmax(axis=1).astype(np.int64),  # first listed genre in GroupLens order
            "release_ts": release_ts.to_numpy(np.int64),
            "release_year": year.to_numpy(),
            "age_days": (reference_ts - release_ts.to_numpy(np.float64)) / SECONDS_PER_DAY,
            "available": ~_synthesised_flag(ids, 17, 0.05),
            "promoted": _synthesised_flag(ids, 91, 0.02),
        }
    )
    users = pd.DataFrame(
        {
            "user_id": raw_users["user_id"].astype(np.int64).to_numpy(),
            "age": raw_users["age"].astype(np.int64).to_numpy(),
            "gender": raw_users["gender"].to_numpy(),
            "occupation": raw_users["occupation"].to_numpy(),
        }
    )
    decades = np.clip((year.to_numpy() - 1920) // 10, 0, 7)
    era = np.eye(8, dtype=np.float32)[decades] * 0.5
    features = np.hstack([genres / np.sqrt(np.maximum(genres.sum(1, keepdims=True), 1.0)), era]).astype(np.float32)
    ds = Dataset(
        name="movielens-100k",
        interactions=inter,
        items=items,
        users=users,
        item_genres=genres,
        item_features=features,
        genre_names=GENRES,
        category_names=GENRES,
        reference_ts=reference_ts,
        notes={"load_report": report},
    )
    return ds.with_interactions(inter)
