"""The MovieLens family beyond 100K (Harper & Konstan 2015), read from the GroupLens archives.

=========================  =====================  =====================================================
name                       archive                format (inside the zip)
=========================  =====================  =====================================================
movielens-1m               ml-1m.zip              ml-1m/ratings.dat, movies.dat, users.dat: ``::``-separated,
                                                  no header, latin-1 (UserID::MovieID::Rating::Timestamp)
movielens-10m              ml-10m.zip             ml-10M100K/ratings.dat, movies.dat: the same ``::`` format
movielens-20m              ml-20m.zip             ml-20m/ratings.csv (userId,movieId,rating,timestamp) and
movielens-25m              ml-25m.zip             movies.csv (movieId,title,genres): CSV with a header, UTF-8
movielens-32m              ml-32m.zip             (the folder is named after the archive)
movielens-latest-small     ml-latest-small.zip
=========================  =====================  =====================================================

The archive is cached as ``cache_dir/ml-XX.zip`` (fetched from GroupLens when missing, or placed there
by hand) and read without extracting it. Every load verifies the whole archive's MD5 against the one
GroupLens publishes beside it (``ml-XX.zip.md5``; `PUBLISHED_MD5`), then the number of ratings against
the published size (`PUBLISHED_RATINGS`). Where no published checksum is recorded here (ml-32m, and
ml-latest-small, which GroupLens rebuilds from time to time), the archive is refused rather than used
unverified: fill `PUBLISHED_MD5` from GroupLens' ``.md5`` file, or load its ``ratings.csv`` as your own
file (``--data ratings.csv --item-table movies.csv``), which says it is unverified by being a file.

Ratings become interactions through `workbench.data.files.from_frames`, so every check of your own
files applies (the messages name ``ARCHIVE:MEMBER`` and the row). Genres are the ``|``-separated
categories; the release year is taken from the title's trailing ``(YYYY)``.
"""

from __future__ import annotations

import hashlib
import io
import os
import urllib.request
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from workbench.data.dataset import Dataset
from workbench.data.files import Table, from_frames
from workbench.data.movielens import DataFileError

BASE_URL = "https://files.grouplens.org/datasets/movielens/"


@dataclass(frozen=True)
class Archive:
    archive: str  # file name of the GroupLens zip
    folder: str  # the folder inside it
    kind: str  # "dat" (``::``-separated, no header) or "csv"
    users: bool = False  # ships a users file (ml-1m only)


FAMILY = {
    "movielens-1m": Archive("ml-1m.zip", "ml-1m", "dat", users=True),
    "movielens-10m": Archive("ml-10m.zip", "ml-10M100K", "dat"),
    "movielens-20m": Archive("ml-20m.zip", "ml-20m", "csv"),
    "movielens-25m": Archive("ml-25m.zip", "ml-25m", "csv"),
    "movielens-32m": Archive("ml-32m.zip", "ml-32m", "csv"),
    "movielens-latest-small": Archive("ml-latest-small.zip", "ml-latest-small", "csv"),
}
ALIASES = {name.replace("movielens-", "ml-"): name for name in FAMILY}
# MD5 of each archive as published by GroupLens (files.grouplens.org/datasets/movielens/ml-XX.zip.md5),
# the same values as ML-100K's 0e33842e... in workbench.data.movielens. None: no published value recorded
# here; such an archive is refused (see the module docstring).
PUBLISHED_MD5: dict[str, str | None] = {
    "movielens-1m": "c4d9eecfca2ab87c1945afe126590906",
    "movielens-10m": "ce571fd55effeba0271552578f2648bd",
    "movielens-20m": "cd245b17a1ae2cc31bb14903e1204af3",
    "movielens-25m": "6b51fb2759a8657d3bfcbfc42b592ada",
    "movielens-32m": None,  # to be filled from https://files.grouplens.org/datasets/movielens/ml-32m.zip.md5
    "movielens-latest-small": None,  # rebuilt by GroupLens over time: no fixed checksum
}
# Ratings in each archive, from its README (None: changes between builds).
PUBLISHED_RATINGS: dict[str, int | None] = {
    "movielens-1m": 1_000_209,
    "movielens-10m": 10_000_054,
    "movielens-20m": 20_000_263,
    "movielens-25m": 25_000_095,
    "movielens-32m": 32_000_204,
    "movielens-latest-small": None,
}
DAT_COLUMNS = {
    "ratings": ["userId", "movieId", "rating", "timestamp"],
    "movies": ["movieId", "title", "genres"],
    "users": ["userId", "gender", "age", "occupation", "zip"],
}


def _md5(path: Path) -> str:
    h = hashlib.md5()  # GroupLens publishes MD5
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _refuse_unverified(name: str, where: Path) -> DataFileError:
    spec = FAMILY[name]
    return DataFileError(
        f"{where}: no published checksum is recorded for {name} (workbench.data.movielens_family.PUBLISHED_MD5"
        f"[{name!r}] must be filled from {BASE_URL}{spec.archive}.md5), so the archive cannot be verified and is "
        f"refused. To use it unverified, load its ratings file as your own: --data {spec.folder}/ratings.csv "
        f"--item-table {spec.folder}/movies.csv"
    )


def fetch_archive(name: str, cache_dir: str | os.PathLike = "data", timeout: float = 30.0) -> Path:
    """Download ``name``'s archive into ``cache_dir`` (MD5-checked before it is kept); return its path."""
    spec = FAMILY[name]
    target = Path(cache_dir) / spec.archive
    md5 = PUBLISHED_MD5[name]
    if md5 is None:
        raise _refuse_unverified(name, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_suffix(".zip.part")
    try:
        with urllib.request.urlopen(BASE_URL + spec.archive, timeout=timeout) as resp, part.open("wb") as out:
            for chunk in iter(lambda: resp.read(1 << 22), b""):
                out.write(chunk)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise RuntimeError(f"could not fetch {BASE_URL + spec.archive} ({exc}); place {spec.archive} in "
                           f"{Path(cache_dir).resolve()} by hand") from None  # fmt: skip
    got = _md5(part)
    if got != md5:
        part.unlink()
        raise DataFileError(f"{BASE_URL + spec.archive}: MD5 {got} differs from the published {md5}")
    part.rename(target)
    return target


def verify_archive(name: str, path: Path, md5: str | None = None) -> None:
    """Refuse an archive whose MD5 is not the published one (or when none is recorded)."""
    expected = md5 or PUBLISHED_MD5[name]
    if expected is None:
        raise _refuse_unverified(name, path)
    got = _md5(path)
    if got != expected:
        raise DataFileError(f"{path}: MD5 {got}, expected the published {expected} for {name}: the archive is "
                            f"damaged or not {FAMILY[name].archive}. Delete it and load again to fetch a fresh copy.")  # fmt: skip


def _member(zf: zipfile.ZipFile, archive: Path, name: str) -> str:
    if name not in zf.namelist():
        raise DataFileError(f"{archive}: no member {name!r}; expected the GroupLens layout ({sorted(zf.namelist())[:8]})")
    return name


def _read_dat(zf: zipfile.ZipFile, archive: Path, member: str, columns: list[str]) -> pd.DataFrame:
    """A ``::``-separated file without header (latin-1 where it is not UTF-8), every field as read."""
    blob = zf.read(_member(zf, archive, member))
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        text = blob.decode("latin-1")
    if "\t" in text:
        raise DataFileError(f"{archive}:{member}: holds a tab; expected '::'-separated fields")
    frame = pd.read_csv(io.StringIO(text.replace("::", "\t")), sep="\t", header=None, names=columns, quoting=3,
                        dtype={c: str for c in columns if c in ("title", "genres", "zip", "gender")})  # fmt: skip
    if frame.shape[1] != len(columns):
        raise DataFileError(f"{archive}:{member}: {frame.shape[1]} fields; expected {columns}")
    return frame


def _read_csv(zf: zipfile.ZipFile, archive: Path, member: str) -> pd.DataFrame:
    import pyarrow.csv as pcsv

    with zf.open(_member(zf, archive, member)) as f:  # pyarrow's reader, converted column by column
        return pcsv.read_csv(f).to_pandas(split_blocks=True, self_destruct=True)


def _movies(frame: pd.DataFrame) -> pd.DataFrame:
    """Title without its trailing ``(YYYY)``, which becomes ``year``."""
    titles = frame["title"].astype(str).str.strip()
    year = titles.str.extract(r"\((\d{4})\)\s*$", expand=False)
    return frame.assign(title=titles.str.replace(r"\s*\(\d{4}\)\s*$", "", regex=True),
                        year=pd.to_numeric(year, errors="coerce"))  # fmt: skip


def read_archive(name: str, archive: Path) -> tuple[pd.DataFrame, Path, Table, Table | None]:
    """(ratings, the path messages name, movies table, users table or None) from the archive."""
    spec = FAMILY[name]
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise DataFileError(f"{archive}: not a zip archive ({exc}); expected GroupLens' {spec.archive}") from None
    with zf:
        ext = spec.kind
        where = Path(f"{archive}:{spec.folder}/ratings.{ext}")
        if ext == "dat":
            ratings = _read_dat(zf, archive, f"{spec.folder}/ratings.dat", DAT_COLUMNS["ratings"])
            movies = _read_dat(zf, archive, f"{spec.folder}/movies.dat", DAT_COLUMNS["movies"])
            users = (_read_dat(zf, archive, f"{spec.folder}/users.dat", DAT_COLUMNS["users"]) if spec.users else None)
        else:
            ratings = _read_csv(zf, archive, f"{spec.folder}/ratings.csv")
            movies = _read_csv(zf, archive, f"{spec.folder}/movies.csv")
            users = None
    movies_at = Path(f"{archive}:{spec.folder}/movies.{ext}")
    users_at = Path(f"{archive}:{spec.folder}/users.{ext}")
    return ratings, where, Table(_movies(movies), movies_at), (Table(users, users_at) if users is not None else None)


def load_movielens(name: str, cache_dir: str | os.PathLike = "data", fetch: bool = True, verify: bool = True,
                   md5: str | None = None, ratings: int | None = None) -> Dataset:
    """Load a MovieLens archive of `FAMILY` as a Dataset (fetching it first when missing and ``fetch``).

    ``verify`` (default): the archive's MD5 must be the published one (``md5`` overrides it: tests that
    write their own archive) and its ratings the published count (``ratings`` overrides it)."""
    if name not in FAMILY:
        raise ValueError(f"unknown MovieLens data set {name!r}: expected one of {sorted(FAMILY)}")
    archive = Path(cache_dir) / FAMILY[name].archive
    if not archive.is_file():
        if not fetch:
            raise FileNotFoundError(f"{name} is not cached: expected {archive.resolve()}")
        fetch_archive(name, cache_dir)
    st = archive.stat()
    return _load(name, str(archive.resolve()), st.st_size, st.st_mtime_ns, verify, md5, ratings)


@lru_cache(maxsize=1)
def _load(name: str, archive: str, _size: int, _mtime: int, verify: bool, md5: str | None, ratings: int | None) -> Dataset:
    path = Path(archive)
    if verify:
        verify_archive(name, path, md5)
    raw, where, movies, users = read_archive(name, path)
    expected = ratings if ratings is not None else PUBLISHED_RATINGS[name]
    if verify and expected is not None and len(raw) != expected:
        raise DataFileError(f"{where}: {len(raw):,} ratings; expected {expected:,} ({name}'s published size)")
    return from_frames(raw, where, {}, "error", movies, users, name=name, source=f"{name}:{path}")
