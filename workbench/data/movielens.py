"""MovieLens-100K (Harper & Konstan 2015): 100,000 ratings by 943 users of 1,682 films.

Reads the cache under ``cache_dir`` in either layout:

- GroupLens: ``ml-100k/u.data``, ``u.item``, ``u.user`` (the original archive);
- RecBole atomic files: ``ml-100k/ml-100k.inter``, ``.item``, ``.user``.

When neither is there, it fetches the GroupLens archive (MD5-checked) and, where
that host cannot be reached, the PyPI wheel ``recbole==1.2.1`` (SHA-256-checked),
from which only the three data files are extracted. The data's licence forbids
redistribution, so it is cached locally and never committed.

Every load verifies the cache before reading it: each file's SHA-256 against what was
extracted (``RECBOLE_SHA256S`` for RecBole's files, which come from a pinned wheel; the
``SHA256SUMS`` manifest the fetch writes beside the files otherwise), then the parsed sizes
against the published ones (``EXPECTED_COUNTS``), which also covers GroupLens files placed
by hand. A damaged cache is refused with a message naming the file and what was expected.

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
# (SHA-256, bytes) of the three files in the SHA-256-checked recbole==1.2.1 wheel
RECBOLE_SHA256S = {
    "ml-100k.inter": ("4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff", 1_979_230),
    "ml-100k.item": ("51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532", 66_632),
    "ml-100k.user": ("4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972", 22_697),
}
MANIFEST = "SHA256SUMS"  # written by the fetch beside the files, in `sha256sum` format


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


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_manifest(root: Path, names: tuple[str, ...]) -> Path:
    """Record the SHA-256 of each freshly extracted file in ``root/SHA256SUMS`` (``sha256sum -c`` reads it)."""
    path = root / MANIFEST
    path.write_text("".join(f"{_sha256(root / n)}  {n}\n" for n in names))
    return path


def _expected_digests(layout: str, root: Path) -> dict[str, str]:
    """File name → SHA-256 it must have: RecBole's known digests, else the fetch's manifest (if any)."""
    if layout == "recbole":
        return {name: digest for name, (digest, _) in RECBOLE_SHA256S.items()}
    manifest = root / MANIFEST
    if not manifest.is_file():
        return {}  # GroupLens files placed by hand: only the counts check applies
    expected = {}
    for n, line in enumerate(manifest.read_text().splitlines(), start=1):
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 64:
            raise DataFileError(f"{manifest}, line {n}: {line!r}, expected '<sha256>  <file name>'")
        expected[parts[1].lstrip("*")] = parts[0]
    return expected


def verify_cache(layout: str, root: Path) -> None:
    """Refuse a cached file whose SHA-256 differs from the one extracted (DataFileError naming it)."""
    for name, digest in _expected_digests(layout, root).items():
        path = root / name
        if not path.is_file():
            raise DataFileError(f"{path}: missing; expected the file listed in {root / MANIFEST}")
        got = _sha256(path)
        if got != digest:
            size = f", {RECBOLE_SHA256S[name][1]:,} bytes" if layout == "recbole" else ""
            raise DataFileError(
                f"{path}: the cached file is damaged or not the one fetched ({path.stat().st_size:,} bytes, "
                f"SHA-256 {got}); expected SHA-256 {digest}{size}. Delete {root} and load again to fetch a fresh copy."
            )


def _check_counts(report: dict, layout: str, root: Path) -> None:
    """Refuse a cache whose parsed sizes differ from MovieLens-100K's published ones, naming the file."""
    inter, items, users = (GROUPLENS_FILES if layout == "grouplens" else RECBOLE_FILES)
    found = {"interactions": (report["raw_interactions"], inter), "items": (report["raw_items"], items),
             "users": (report["raw_users"], users)}  # fmt: skip
    for what, (count, name) in found.items():
        if count != EXPECTED_COUNTS[what]:
            raise DataFileError(
                f"{root / name}: holds {count:,} {what}; expected {EXPECTED_COUNTS[what]:,} (MovieLens-100K's "
                f"published size): the file is truncated or not MovieLens-100K. Delete {root} and load again "
                "to fetch a fresh copy."
            )
    for what, name in (("unknown_id_interactions", inter), ("users_without_interactions", users)):
        if report[what]:
            raise DataFileError(f"{root / name}: {report[what]:,} {what.replace('_', ' ')}; expected none in "
                                f"MovieLens-100K (the cache is damaged). Delete {root} and load again.")  # fmt: skip


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
    write_manifest(target, GROUPLENS_FILES)


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
    write_manifest(target, RECBOLE_FILES)


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


def load_movielens_100k(cache_dir: str | os.PathLike = "data", fetch: bool = True, verify: bool = True) -> Dataset:
    """Load MovieLens-100K as a Dataset (fetching it into ``cache_dir`` first if needed).

    Ratings 1-5 are kept as ``rating``; ``.matrix`` is the binary implicit view.
    The load report (duplicates collapsed, interactions with ids missing from the
    item or user table, users without interactions) is in ``dataset.notes["load_report"]``.
    ``verify`` (default): refuse a damaged cache (checksums, then the published sizes;
    see the module docstring). ``verify=False`` reads any files in the layout (tests, excerpts).
    """
    found = _find_cache(Path(cache_dir))
    if found is None:
        if not fetch:
            raise FileNotFoundError(f"MovieLens-100K is not cached under {Path(cache_dir).resolve()}")
        fetch_movielens_100k(cache_dir)
        found = _find_cache(Path(cache_dir))
    layout, root = found
    if verify:
        verify_cache(layout, root)
    raw_inter, raw_items, raw_users = (_read_grouplens if layout == "grouplens" else _read_recbole)(root)
    ds = _build(raw_inter, raw_items, raw_users, source=f"{layout}:{root}")
    if verify:
        _check_counts(ds.notes["load_report"], layout, root)
    return ds


def _build(raw_inter: pd.DataFrame, raw_items: pd.DataFrame, raw_users: pd.DataFrame, source: str) -> Dataset:
    report: dict[str, object] = {"source": source, "raw_interactions": len(raw_inter), "raw_items": len(raw_items),
                                 "raw_users": len(raw_users)}  # fmt: skip
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
