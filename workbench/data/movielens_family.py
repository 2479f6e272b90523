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
the published size (`PUBLISHED_RATINGS`). Where no checksum is pinned here (ml-32m, and ml-latest-small,
which GroupLens rebuilds from time to time, so a pinned value would go stale), the checksum is the one
GroupLens publishes beside the archive at the time (`published_md5`): fetched with the archive, the archive
verified against it, then kept beside it as ``cache_dir/ml-XX.zip.md5`` for later loads (offline). An
archive placed by hand is verified against the ``.md5`` placed beside it, or the one fetched then; with
neither, it is refused rather than used unverified (its ``ratings.csv`` can still be loaded as your own
file, ``--data ratings.csv --item-table movies.csv``, which says it is unverified by being a file).

Ratings become interactions through `workbench.data.files.from_frames`, so every check of your own
files applies (the messages name ``ARCHIVE:MEMBER`` and the row). Genres are the ``|``-separated
categories; the release year is taken from the title's trailing ``(YYYY)``.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
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
    "movielens-32m": None,  # none recorded here: read from GroupLens' ml-32m.zip.md5 (`published_md5`)
    "movielens-latest-small": None,  # rebuilt by GroupLens over time: its current ml-latest-small.zip.md5
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


def _refuse_unverified(name: str, where: Path, why: str) -> DataFileError:
    spec = FAMILY[name]
    return DataFileError(
        f"{where}: {why}, so the archive cannot be verified and is refused. Place {spec.archive}.md5 (from "
        f"{BASE_URL}{spec.archive}.md5) beside it, or load its ratings file as your own, unverified: --data "
        f"{spec.folder}/ratings.csv --item-table {spec.folder}/movies.csv"
    )


def parse_md5(text: str, where: str) -> str:
    """The checksum of an ``.md5`` file (``md5sum``'s ``HASH  FILE``, or the hash alone), lower case."""
    m = re.match(r"\s*([0-9a-fA-F]{32})(?![0-9a-fA-F])", text)
    if not m:
        raise DataFileError(f"{where}: {text[:80]!r} is not an MD5 checksum; expected 32 hexadecimal digits "
                            "(md5sum's format: HASH  FILE)")  # fmt: skip
    return m.group(1).lower()


def md5_file(name: str, cache_dir: str | os.PathLike) -> Path:
    """Where the published ``.md5`` of ``name``'s archive is kept: beside the cached archive."""
    return Path(cache_dir) / f"{FAMILY[name].archive}.md5"


def published_md5(name: str, cache_dir: str | os.PathLike = "data", base_url: str = BASE_URL, fresh: bool = False,
                  timeout: float = 30.0) -> str:  # fmt: skip
    """The MD5 ``name``'s archive must have: the pinned `PUBLISHED_MD5`, else the one GroupLens publishes beside
    the archive (``BASE_URL/ml-XX.zip.md5``), read from the copy kept beside the cached archive unless ``fresh``,
    else fetched (the caller keeps it with `keep_md5` once the archive matched it)."""
    if PUBLISHED_MD5[name]:
        return PUBLISHED_MD5[name]
    kept, url = md5_file(name, cache_dir), f"{base_url}{FAMILY[name].archive}.md5"
    if kept.is_file() and not fresh:
        return parse_md5(kept.read_text(encoding="ascii", errors="replace"), str(kept))
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            text = resp.read(4096).decode("ascii", errors="replace")
    except OSError as exc:
        raise _refuse_unverified(name, Path(cache_dir) / FAMILY[name].archive,
                                 f"its published checksum could not be fetched from {url} ({exc})") from None
    return parse_md5(text, url)


def keep_md5(name: str, cache_dir: str | os.PathLike, md5: str) -> None:
    """Keep a fetched published checksum beside the archive it verified (md5sum's format), for offline loads."""
    if PUBLISHED_MD5[name] is None:
        md5_file(name, cache_dir).write_text(f"{md5}  {FAMILY[name].archive}\n", encoding="ascii")


def fetch_archive(name: str, cache_dir: str | os.PathLike = "data", timeout: float = 30.0,
                  base_url: str = BASE_URL) -> Path:  # fmt: skip
    """Download ``name``'s archive into ``cache_dir`` (MD5-checked before it is kept, against the published
    checksum of this moment); return its path."""
    spec = FAMILY[name]
    target = Path(cache_dir) / spec.archive
    md5 = published_md5(name, cache_dir, base_url, fresh=True, timeout=timeout)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_suffix(".zip.part")
    try:
        with urllib.request.urlopen(base_url + spec.archive, timeout=timeout) as resp, part.open("wb") as out:
            for chunk in iter(lambda: resp.read(1 << 22), b""):
                out.write(chunk)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise RuntimeError(f"could not fetch {base_url + spec.archive} ({exc}); place {spec.archive} in "
                           f"{Path(cache_dir).resolve()} by hand") from None  # fmt: skip
    got = _md5(part)
    if got != md5:
        part.unlink()
        raise DataFileError(f"{base_url + spec.archive}: MD5 {got} differs from the published {md5}")
    part.rename(target)
    keep_md5(name, cache_dir, md5)
    return target


def verify_archive(name: str, path: Path, md5: str | None = None) -> None:
    """Refuse an archive whose MD5 is not the published one (or when none is recorded)."""
    expected = md5 or PUBLISHED_MD5[name]
    if expected is None:
        raise _refuse_unverified(name, path, f"no checksum is pinned for {name} and none was given")
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
                   md5: str | None = None, ratings: int | None = None, base_url: str = BASE_URL) -> Dataset:
    """Load a MovieLens archive of `FAMILY` as a Dataset (fetching it from ``base_url`` first when missing and
    ``fetch``).

    ``verify`` (default): the archive's MD5 must be the published one (`published_md5`; ``md5`` overrides it:
    tests that write their own archive) and its ratings the published count (``ratings`` overrides it)."""
    if name not in FAMILY:
        raise ValueError(f"unknown MovieLens data set {name!r}: expected one of {sorted(FAMILY)}")
    archive = Path(cache_dir) / FAMILY[name].archive
    if not archive.is_file():
        if not fetch:
            raise FileNotFoundError(f"{name} is not cached: expected {archive.resolve()}")
        fetch_archive(name, cache_dir, base_url=base_url)
    expected = md5 or (published_md5(name, cache_dir, base_url) if verify else None)
    st = archive.stat()
    ds = _load(name, str(archive.resolve()), st.st_size, st.st_mtime_ns, verify, expected, ratings)
    if verify and md5 is None and not md5_file(name, cache_dir).is_file():
        keep_md5(name, cache_dir, expected)  # fetched for an archive placed by hand, which matched it
    return ds


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
