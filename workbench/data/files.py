"""Your own interaction files: CSV, TSV or Parquet, a column mapping, optional item and user tables.

A *file reference* names the data everywhere a data set name goes (``--data``, ``DataSpec``,
sweep and loop files, notebook settings)::

    path/to/interactions.parquet
    path/to/log.csv?columns=user=uid,item=iid,timestamp=ts,rating=stars&items=path/items.csv&duplicates=drop

Options (``--columns``, ``--items``, ``--users``, ``--duplicates``, ``--encoding`` on the command line):

- ``columns``: ``ROLE=COLUMN`` pairs for the roles ``user``, ``item`` (required), ``timestamp`` (Unix
  seconds; without one, the row order is the time) and ``rating`` (without one, every interaction is 1.0).
  Unmapped roles take the first column named as in `DEFAULT_COLUMNS` (case-insensitive).
- ``items`` / ``users``: a table with one row per item (id, and optionally title, category, release
  date or year) or per user (id and any attributes), in the same formats.
- ``duplicates``: what to do with rows that repeat another row in every mapped column: ``error``
  (default: refuse, naming both rows), ``drop`` (keep the first, count them in the load report) or ``keep``.
- ``encoding``: ``utf-8`` (default) or ``latin-1`` for text files.

`FileSource.text` is the canonical reference (absolute paths, options sorted, defaults left out), so the
same files always get the same name; `FileSource.digest` is a digest of the files' bytes, which
`workbench.store.DataSpec` carries so the model store keys artefacts on the content.

Every check (`workbench.data.validation`) runs before a Dataset exists, vectorised; a failure is a
`DataFileError` naming the file, the row, the column and what was expected.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np
import pandas as pd

from workbench.data.dataset import SECONDS_PER_DAY, Dataset
from workbench.data.movielens import DataFileError
from workbench.data.validation import (
    ROLES, check_duplicates, check_ids, check_ratings, check_table_ids, check_timestamps, check_variety,
    read_table, resolve_columns, sort_order,
)  # fmt: skip

SUFFIXES = (".csv", ".tsv", ".tab", ".txt", ".parquet", ".pq")
DUPLICATE_POLICIES = ("error", "drop", "keep")
ENCODINGS = ("utf-8", "latin-1")
OPTIONS = ("columns", "items", "users", "duplicates", "encoding")
ITEM_TABLE_COLUMNS = {
    "title": ("title", "name", "movie_title"),
    "category": ("category", "genre", "genres", "categories"),
    "release": ("release_date", "release_ts", "release_year", "year", "released"),
}


def parse_columns(text: str, where: str = "--columns", roles: tuple[str, ...] = ROLES) -> tuple[tuple[str, str], ...]:
    """``user=uid,item=iid`` as ``(("item", "iid"), ("user", "uid"))``; ValueError naming the bad pair."""
    pairs: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        role, eq, col = part.partition("=")
        role, col = role.strip(), col.strip()
        if not eq or not col:
            raise ValueError(f"{where} {text!r}: {part!r} is not ROLE=COLUMN; expected e.g. user=uid,item=iid")
        if role not in roles:
            raise ValueError(f"{where} {text!r}: unknown role(s) [{role!r}]; expected some of {list(roles)}")
        if role in pairs:
            raise ValueError(f"{where} {text!r}: role {role!r} mapped twice")
        pairs[role] = col
    cols = list(pairs.values())
    twice = sorted({c for c in cols if cols.count(c) > 1})
    if twice:
        raise ValueError(f"{where} {text!r}: column(s) {twice} mapped to two roles; expected one role per column")
    return tuple(sorted(pairs.items()))


def looks_like_path(text: str) -> bool:
    """Whether a ``--data`` value is meant as a file (a path with a known suffix, or an existing file)."""
    base = text.split("?", 1)[0]
    return base.lower().endswith(SUFFIXES) or os.sep in base or Path(base).is_file()


@dataclass(frozen=True)
class FileSource:
    """An interactions file with its column mapping, optional item/user tables and policies."""

    path: str
    columns: tuple[tuple[str, str], ...] = ()
    items: str | None = None
    users: str | None = None
    duplicates: str = "error"
    encoding: str = "utf-8"

    def __post_init__(self) -> None:
        for name in ("path", "items", "users"):
            value = getattr(self, name)
            if value is None:
                continue
            p = Path(value).expanduser()
            if not p.is_file():
                what = "--data" if name == "path" else f"--{name}"
                raise DataFileError(f"{what} {value}: no such file; expected a CSV, TSV or Parquet file")
            if p.suffix.lower() not in SUFFIXES:
                raise DataFileError(f"{value}: unknown file type {p.suffix!r}; expected one of {SUFFIXES}")
            object.__setattr__(self, name, str(p.resolve()))
        if self.duplicates not in DUPLICATE_POLICIES:
            raise ValueError(f"duplicates={self.duplicates!r}: expected one of {DUPLICATE_POLICIES}")
        enc = self.encoding.lower().replace("_", "-")
        enc = {"utf8": "utf-8", "latin1": "latin-1", "iso-8859-1": "latin-1"}.get(enc, enc)
        if enc not in ENCODINGS:
            raise ValueError(f"encoding={self.encoding!r}: expected one of {ENCODINGS}")
        object.__setattr__(self, "encoding", enc)

    @classmethod
    def parse(cls, text: str) -> FileSource:
        """A reference ``PATH[?columns=...&items=...&users=...&duplicates=...&encoding=...]``."""
        path, _, query = text.partition("?")
        opts: dict[str, str] = {}
        for part in filter(None, query.split("&")):
            key, eq, value = part.partition("=")
            if key not in OPTIONS or not eq:
                raise ValueError(f"--data {text!r}: option {part!r}; expected KEY=VALUE with KEY one of {OPTIONS}")
            opts[key] = unquote(value)
        columns = parse_columns(opts.pop("columns", ""), f"--data {path} columns")
        return cls(unquote(path), columns, **opts)

    def with_options(self, **opts: str | None) -> FileSource:
        """This source with the command line's ``--columns`` etc. (None: not given)."""
        given = {k: v for k, v in opts.items() if v is not None}
        if "columns" in given:
            given["columns"] = tuple(sorted((dict(self.columns) | dict(parse_columns(given["columns"]))).items()))
        return replace(self, **given)

    @property
    def text(self) -> str:
        """The canonical reference: equal text, same files and options."""
        opts = []
        if self.columns:
            opts.append("columns=" + ",".join(f"{r}={quote(c, safe='')}" for r, c in self.columns))
        for key, default in (("duplicates", "error"), ("encoding", "utf-8"), ("items", None), ("users", None)):
            value = getattr(self, key)
            if value != default:
                opts.append(f"{key}={quote(value, safe='/')}")
        return quote(self.path, safe="/") + ("?" + "&".join(sorted(opts)) if opts else "")

    @property
    def name(self) -> str:
        """A short display name: the interactions file's name."""
        return Path(self.path).name

    def files(self) -> list[Path]:
        return [Path(p) for p in (self.path, self.items, self.users) if p]

    def digest(self) -> str:
        """16 hex digits over the bytes of every file (interactions, item and user tables)."""
        return _digest(tuple((str(p), *_stamp(p)) for p in self.files()))


def _stamp(p: Path) -> tuple[int, int]:
    st = p.stat()
    return st.st_size, st.st_mtime_ns


@lru_cache(maxsize=16)
def _digest(files: tuple[tuple[str, int, int], ...]) -> str:
    h = hashlib.blake2b(digest_size=8)
    for path, size, _ in files:
        h.update(f"{Path(path).name}:{size}".encode())
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
    return h.hexdigest()


def load_file(source: FileSource | str) -> Dataset:
    """The Dataset of a file reference, every check passed first (DataFileError otherwise).

    Loads of the same unchanged files are shared within a process (a command that checks sizes
    before fitting reads the files once)."""
    src = FileSource.parse(source) if isinstance(source, str) else source
    return _load_cached(src, tuple(_stamp(p) for p in src.files()))


@lru_cache(maxsize=2)
def _load_cached(src: FileSource, _stamps: tuple) -> Dataset:
    return build_dataset(src)


def build_dataset(src: FileSource) -> Dataset:
    """Read and check the source's files, then build its Dataset (`from_frames`)."""
    raw = read_table(Path(src.path), src.encoding, "interactions")
    items = Table(read_table(Path(src.items), src.encoding, "items"), Path(src.items)) if src.items else None
    users = Table(read_table(Path(src.users), src.encoding, "users"), Path(src.users)) if src.users else None
    return from_frames(raw, Path(src.path), dict(src.columns), src.duplicates, items, users, src.name, src.text)


@dataclass(frozen=True)
class Table:
    """An item or user table as read, with the file it came from (for messages)."""

    frame: pd.DataFrame
    path: Path


def from_frames(raw: pd.DataFrame, path: Path, columns: dict[str, str], duplicates: str = "error",
                items: Table | None = None, users: Table | None = None, name: str | None = None,
                source: str | None = None) -> Dataset:
    """A Dataset from interactions as read from ``path`` (and optional item/user tables), every check
    (`workbench.data.validation`) passed first; the readers of other formats (the MovieLens archives)
    come through here too. ``raw`` is consumed: its interaction columns are popped as they are converted,
    so that their memory goes early (a 20M-row file holds a few of its columns at once, not all)."""
    cols = resolve_columns(raw, columns, path)
    name = name or path.name
    report: dict[str, object] = {"source": source or str(path), "raw_interactions": len(raw), "columns": cols}
    n_rows = len(raw)
    # each column is taken out of ``raw`` (popped: its memory goes as soon as it is converted) and checked
    user_codes, user_ids = _codes(check_ids(raw.pop(cols["user"]), path, cols["user"], "user"))
    item_codes, item_ids = _codes(check_ids(raw.pop(cols["item"]), path, cols["item"], "item"))
    if cols.get("timestamp"):
        ts = check_timestamps(raw.pop(cols["timestamp"]), path, cols["timestamp"])
    else:
        ts = np.arange(n_rows, dtype=np.int64)  # the row order is the time
        report["timestamp"] = "none in the file: the row order is the time (seconds 0, 1, 2, ...)"
    rating = (check_ratings(raw.pop(cols["rating"]), path, cols["rating"]) if cols.get("rating")
              else np.ones(n_rows, np.float32))  # fmt: skip
    check_variety({"user": user_ids, "item": item_ids}, path, cols, n_rows)
    order = sort_order(user_codes, ts, item_codes)  # the Dataset's order: user, time, item (stable)
    keep = check_duplicates((user_codes, ts, item_codes, rating), order, path, cols, duplicates)
    report["duplicate_rows_dropped"] = int((~keep).sum())
    order = order[keep[order]]

    items_raw = users_raw = None
    if items is not None:
        item_id_col = resolve_columns(items.frame, {}, items.path, roles=("item",), prefer=cols["item"])["item"]
        items_raw = check_table_ids(items.frame, item_id_col, items.path, pd.Series(item_ids), path, cols["item"],
                                    "item", item_codes)  # fmt: skip
    if users is not None:
        user_id_col = resolve_columns(users.frame, {}, users.path, roles=("user",), prefer=cols["user"])["user"]
        users_raw = check_table_ids(users.frame, user_id_col, users.path, pd.Series(user_ids), path, cols["user"],
                                    "user", user_codes)  # fmt: skip
    user_index, user_of = _space(users_raw, user_ids, user_codes)
    item_index, item_of = _space(items_raw, item_ids, item_codes)
    inter = pd.DataFrame({
        "user": user_of[order].astype(np.int64), "item": item_of[order].astype(np.int64), "timestamp": ts[order],
        "rating": rating[order],
    })  # fmt: skip
    return _assemble(name, source or str(path), inter, user_index, item_index, items_raw, users_raw, report)


def _codes(ids: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Each row's position among the sorted distinct ids (int32 where it fits), and those ids."""
    codes, uniques = pd.factorize(ids, sort=True)
    return (codes.astype(np.int32) if len(uniques) < 2**31 else codes), pd.Index(uniques)


def _space(table: pd.DataFrame | None, seen: pd.Index, codes: np.ndarray) -> tuple[pd.Index, np.ndarray]:
    """The sorted id space (the table's ids where there is a table, else the ids seen) and each row's
    index in it."""
    if table is None:
        return seen, codes
    index = pd.Index(table["__id"]).sort_values()
    return index, index.get_indexer(seen).astype(codes.dtype)[codes]


def _assemble(name: str, source: str, inter: pd.DataFrame, user_index: pd.Index, item_index: pd.Index, items_raw,
              users_raw, report: dict) -> Dataset:
    """The Dataset; ``inter`` is already in the Dataset's order (user, timestamp, item)."""
    reference_ts = int(inter["timestamp"].max())
    n_items = len(item_index)
    table = items_raw.set_index("__id").reindex(item_index) if items_raw is not None else pd.DataFrame(index=item_index)
    lower = {str(c).lower(): c for c in table.columns}

    def pick(role: str):
        return next((lower[c] for c in ITEM_TABLE_COLUMNS[role] if c in lower), None)

    title_col, cat_col, rel_col = pick("title"), pick("category"), pick("release")
    titles = table[title_col].astype(str).to_numpy() if title_col else item_index.astype(str).to_numpy()
    if cat_col:
        labels = table[cat_col].astype(str).fillna("unknown")
        genres_split = labels.str.get_dummies(sep="|")
        genre_names = tuple(str(c) for c in genres_split.columns)
        genres = genres_split.to_numpy(np.float32)
        category = genres.argmax(axis=1).astype(np.int64)
    else:
        genre_names = ("unknown",)
        genres = np.ones((n_items, 1), np.float32)
        category = np.zeros(n_items, np.int64)
    first_seen = np.full(n_items, reference_ts, np.int64)
    np.minimum.at(first_seen, inter["item"].to_numpy(), inter["timestamp"].to_numpy())
    release_ts = first_seen
    if rel_col:
        rel = table[rel_col]
        num = pd.to_numeric(rel, errors="coerce")
        if num.notna().any() and num.dropna().between(1800, 2200).all():  # a year
            years = num.fillna(num.median()).astype(np.int64)
            release_ts = pd.to_datetime(pd.DataFrame({"year": years, "month": 1, "day": 1})).astype("datetime64[s]").astype("int64").to_numpy()
        elif num.notna().all():
            release_ts = num.to_numpy(np.int64)
        else:
            dates = pd.to_datetime(rel, errors="coerce", utc=True)
            secs = (dates - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
            release_ts = np.where(secs.notna(), secs.fillna(0), first_seen).astype(np.int64)
    items = pd.DataFrame({
        "item_id": item_index.to_numpy(),
        "title": titles,
        "category": category,
        "release_ts": np.asarray(release_ts, np.int64),
        "age_days": (reference_ts - np.asarray(release_ts, np.float64)) / SECONDS_PER_DAY,
        "available": np.ones(n_items, bool),
        "promoted": np.zeros(n_items, bool),
    })  # fmt: skip
    users = pd.DataFrame({"user_id": user_index.to_numpy()})
    if users_raw is not None:
        extra = users_raw.set_index("__id").reindex(user_index)
        for col in extra.columns:
            if col not in users.columns:
                users[col] = extra[col].to_numpy()
    features = genres / np.sqrt(np.maximum(genres.sum(1, keepdims=True), 1.0))
    report["users"], report["items"], report["interactions"] = len(users), n_items, len(inter)
    ds = Dataset(name=name, interactions=inter, items=items, users=users, item_genres=genres,
                 item_features=features.astype(np.float32), genre_names=genre_names, category_names=genre_names,
                 reference_ts=reference_ts, notes={"load_report": report, "source": source})  # fmt: skip
    return ds  # interactions built sorted by (user, timestamp, item), as with_interactions would
