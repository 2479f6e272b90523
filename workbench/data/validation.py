"""Checks on interaction files, before any Dataset exists: one clear message per kind of damage.

Each check is vectorised (NumPy/pandas over whole columns, never a Python loop over rows) and
raises `DataFileError` naming the file, the row (1-based, after the header; text files also give
the line), the column and what was expected. Kinds: an empty file, a truncated or damaged Parquet
file, bytes that are not in the file's encoding (mixed encodings), missing or misspelt columns (with
the closest name), empty ids, non-numeric or out-of-range timestamps, NaN or non-numeric ratings,
duplicate rows (policy ``error``), a single user or item, and an item or user table whose ids do not
cover the interactions'.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.data.movielens import DataFileError

ROLES = ("user", "item", "timestamp", "rating")
DEFAULT_COLUMNS = {
    "user": ("user", "user_id", "userid", "uid", "customer_id", "visitor_id", "session_id"),
    "item": ("item", "item_id", "itemid", "iid", "movieid", "movie_id", "product_id", "article_id"),
    "timestamp": ("timestamp", "ts", "time", "datetime", "date", "unix_time", "event_time"),
    "rating": ("rating", "ratings", "score", "stars", "value"),
}
REQUIRED = ("user", "item")
TS_RANGE = (0, 4_102_444_800)  # 1970-01-01 .. 2100-01-01 in Unix seconds
PARQUET = (".parquet", ".pq")
CHUNK_BYTES = 1 << 26  # encoding check reads 64 MiB at a time
UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")


def where(path: Path, row: int) -> str:
    """``path, row R (line L)`` for a 0-based data row (text files have one header line, ``.dat`` none)."""
    if path.suffix.lower() in PARQUET:
        return f"{path}, row {row + 1}"
    header = path.suffix.lower() != ".dat"  # MovieLens' ``::`` files have no header line
    return f"{path}, row {row + 1} (line {row + 1 + header})"


def shown(value) -> str:
    """A value as a message shows it: ``40``, ``'abc'`` (NumPy scalars as plain Python)."""
    return repr(value.item() if hasattr(value, "item") else value)


def _first(mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if len(idx) else None


# ---- reading ---------------------------------------------------------------------------------------


def check_encoding(path: Path) -> None:
    """Refuse a text file that is not UTF-8 throughout, naming the line and byte (64 MiB at a time)."""
    offset, lines, seen_utf8 = 0, 0, False
    with path.open("rb") as f:
        while True:
            chunk = f.read(CHUNK_BYTES)
            if not chunk:
                return
            chunk += f.readline()  # end on a line boundary so no character is cut in two
            if not chunk.isascii():
                try:
                    chunk.decode("utf-8")
                    seen_utf8 = True
                except UnicodeDecodeError as exc:
                    line = lines + chunk.count(b"\n", 0, exc.start) + 1
                    mixed = seen_utf8 or bool(UTF8_MULTIBYTE.search(chunk[: exc.start]))
                    byte = chunk[exc.start]
                    latin = bytes([byte]).decode("latin-1")
                    kind = ("the file mixes encodings: UTF-8 text elsewhere, but this byte is not UTF-8"
                            if mixed else "this byte is not UTF-8")  # fmt: skip
                    raise DataFileError(
                        f"{path}, line {line} (byte {offset + exc.start}): byte 0x{byte:02x} ({latin!r} in latin-1): "
                        f"{kind}; expected one encoding throughout: UTF-8, or latin-1 for the whole file "
                        f"(--encoding latin-1)"
                    ) from None
            lines += chunk.count(b"\n")
            offset += len(chunk)


def _separator(path: Path, encoding: str) -> str:
    if path.suffix.lower() in (".tsv", ".tab"):
        return "\t"
    with path.open("r", encoding=encoding, errors="replace") as f:
        head = f.readline()
    return "\t" if head.count("\t") > head.count(",") else ","


def read_table(path: Path, encoding: str, what: str) -> pd.DataFrame:
    """A CSV/TSV/Parquet file as a DataFrame; DataFileError for an empty, truncated or mis-encoded file."""
    if path.stat().st_size == 0:
        raise DataFileError(f"{path}: empty file (0 bytes); expected a header row and at least one row of {what}")
    if path.suffix.lower() in PARQUET:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:  # split blocks + self-destruct: each column is freed from Arrow as it is converted
            frame = pq.read_table(path).to_pandas(split_blocks=True, self_destruct=True)
        except (pa.ArrowException, OSError) as exc:
            raise DataFileError(
                f"{path}: not a readable Parquet file ({exc}); the file is truncated or damaged: expected a "
                f"complete Parquet file (ending with its footer and the 4 bytes 'PAR1'). Write it again."
            ) from None
    else:
        if encoding == "utf-8":
            check_encoding(path)
        sep = _separator(path, encoding)
        fields = f"the same number of {'tab' if sep == chr(9) else 'comma'}-separated fields on every line"
        if encoding == "utf-8":  # pyarrow's reader, converted column by column (half the peak memory of read_csv)
            import pyarrow as pa
            import pyarrow.csv as pcsv

            try:
                table = pcsv.read_csv(path, parse_options=pcsv.ParseOptions(delimiter=sep),
                                      convert_options=pcsv.ConvertOptions(strings_can_be_null=True))  # fmt: skip
            except pa.ArrowInvalid as exc:
                raise DataFileError(f"{path}: malformed {what} file ({exc}); expected {fields}") from None
            frame = table.to_pandas(split_blocks=True, self_destruct=True)
            del table
        else:
            try:
                frame = pd.read_csv(path, sep=sep, engine="c", encoding=encoding)
            except pd.errors.EmptyDataError:
                raise DataFileError(f"{path}: no header and no rows; expected a header row and rows of {what}") from None
            except (pd.errors.ParserError, ValueError) as exc:
                raise DataFileError(f"{path}: malformed {what} file ({exc}); expected {fields}") from None
    if len(frame) == 0:
        raise DataFileError(f"{path}: a header ({list(frame.columns)}) and no rows; expected at least one row of {what}")
    return frame


def resolve_columns(frame: pd.DataFrame, mapping: dict[str, str], path: Path, roles: tuple[str, ...] = ROLES,
                    prefer: str | None = None, defaults: dict[str, tuple[str, ...]] = DEFAULT_COLUMNS,
                    required: tuple[str, ...] = REQUIRED) -> dict[str, str | None]:
    """Role → column name: the mapping's, else the first default name present (case-insensitive).

    A mapped column missing from the file, or a required role with no column, is refused with the
    file's columns and the closest name."""
    names = [str(c) for c in frame.columns]
    lower = {n.lower(): n for n in names}
    out: dict[str, str | None] = {}
    unknown = sorted(set(mapping) - set(roles))
    if unknown:
        raise DataFileError(f"{path}: --columns maps unknown role(s) {unknown}; expected some of {list(roles)}")
    for role in roles:
        if role in mapping:
            col = mapping[role]
            if col not in names:
                close = difflib.get_close_matches(col, names, n=1, cutoff=0.5) or difflib.get_close_matches(
                    col.lower(), list(lower), n=1, cutoff=0.5)
                hint = f"; did you mean {lower.get(close[0], close[0])!r}?" if close else ""
                raise DataFileError(f"{path}, column {col!r} (mapped to {role} by --columns {role}={col}): not in the "
                                    f"file{hint} The file's columns: {names}")  # fmt: skip
            out[role] = col
            continue
        candidates = ((prefer,) if prefer else ()) + defaults[role]
        found = next((lower[c.lower()] for c in candidates if c.lower() in lower), None)
        if found is None and role in required:
            close = difflib.get_close_matches(role, list(lower), n=1, cutoff=0.6)
            for c in candidates:
                close = close or difflib.get_close_matches(c.lower(), list(lower), n=1, cutoff=0.75)
            hint = f" Did you mean {lower[close[0]]!r} (--columns {role}={lower[close[0]]})?" if close else ""
            raise DataFileError(f"{path}, column for {role}: none of the file's columns {names} is named one of "
                                f"{list(candidates)}; expected one, or a mapping --columns {role}=NAME.{hint}")  # fmt: skip
        out[role] = found
    return out


# ---- columns ---------------------------------------------------------------------------------------


def check_ids(values: pd.Series, path: Path, col: str, role: str) -> pd.Series:
    """Ids as given (integers stay integers, else strings); refuse an empty one."""
    if pd.api.types.is_float_dtype(values.dtype):
        empty = values.isna().to_numpy()
        if not empty.any() and np.all(np.mod(values.to_numpy(), 1) == 0):
            return values.astype(np.int64)
    elif pd.api.types.is_integer_dtype(values.dtype) and not pd.api.types.is_extension_array_dtype(values.dtype):
        return values
    else:
        values = values.astype("string")
        empty = (values.isna() | (values.str.strip() == "")).to_numpy(bool)
    row = _first(empty)
    if row is not None:
        raise DataFileError(f"{where(path, row)}, column {col!r}: empty {role} id ({int(empty.sum()):,} such rows); "
                            f"expected {'an' if role[0] in 'aeiou' else 'a'} {role} id on every row")  # fmt: skip
    if pd.api.types.is_float_dtype(values.dtype):  # non-integral floats: keep them as text ids
        return values.astype("string")
    return values.astype("string").str.strip()


def check_timestamps(values: pd.Series, path: Path, col: str) -> np.ndarray:
    """Unix seconds as int64 (datetime columns are converted); refuse non-numeric or out-of-range values."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        if values.isna().any():
            row = _first(values.isna().to_numpy())
            raise DataFileError(f"{where(path, row)}, column {col!r}: empty timestamp; expected a date on every row")
        return (values.astype("datetime64[s]").astype("int64")).to_numpy(np.int64)
    if pd.api.types.is_integer_dtype(values.dtype) and not pd.api.types.is_extension_array_dtype(values.dtype):
        arr = values.to_numpy()  # no NaN possible: only the range to check, without a float copy
    else:
        num = values if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype) \
            else pd.to_numeric(values, errors="coerce")
        arr = num.to_numpy(np.float64, na_value=np.nan)
    bad = ~np.isfinite(arr) if arr.dtype.kind == "f" else np.zeros(len(arr), bool)
    row = _first(bad)
    if row is not None:
        raise DataFileError(f"{where(path, row)}, column {col!r}: timestamp {shown(values.iloc[row])} is not a number "
                            f"({int(bad.sum()):,} such rows); expected Unix seconds (an integer)")  # fmt: skip
    lo, hi = TS_RANGE
    out = (arr < lo) | (arr >= hi)
    row = _first(out)
    if row is not None:
        hint = " (it looks like milliseconds: divide by 1000)" if arr[row] >= hi * 100 else ""
        raise DataFileError(f"{where(path, row)}, column {col!r}: timestamp {shown(values.iloc[row])} is out of range "
                            f"({int(out.sum()):,} such rows){hint}; expected Unix seconds in [{lo}, {hi}) "
                            "(1970-01-01 to 2100-01-01)")  # fmt: skip
    return arr.astype(np.int64, copy=False)


def check_ratings(values: pd.Series, path: Path, col: str) -> np.ndarray:
    """Ratings as float32; refuse empty (NaN), non-numeric or infinite ones."""
    num = values if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype) \
        else pd.to_numeric(values, errors="coerce")
    arr = num.to_numpy(np.float64, na_value=np.nan)
    bad = ~np.isfinite(arr)
    row = _first(bad)
    if row is not None:
        value = values.iloc[row]
        what = "empty (NaN)" if pd.isna(value) or str(value).strip() in ("", "nan", "NaN") else f"{shown(value)}, not a number"
        raise DataFileError(f"{where(path, row)}, column {col!r}: rating is {what} ({int(bad.sum()):,} such rows); "
                            "expected a finite number on every row (or map no rating column: implicit feedback)")  # fmt: skip
    return arr.astype(np.float32)


def sort_order(user: np.ndarray, ts: np.ndarray, item: np.ndarray) -> np.ndarray:
    """A stable order by (user, timestamp, item) of int arrays: one argsort of a packed int64 key where
    the three fit in 63 bits (timestamps replaced by their rank when the span is too wide), else a lexsort."""
    t = ts - ts.min()
    bu, bt, bi = (int(x.max()).bit_length() for x in (user, t, item))
    if bu + bt + bi > 63:  # long time spans: the rank of each time among the distinct ones keeps the order
        t = np.unique(ts, return_inverse=True)[1]
        bt = int(t.max()).bit_length()
    if bu + bt + bi <= 63:
        key = (user.astype(np.int64) << (bt + bi)) | (t.astype(np.int64) << bi) | item.astype(np.int64)
        del t
        return np.argsort(key, kind="stable")
    return np.lexsort((item, ts, user))


def check_duplicates(keys: tuple[np.ndarray, ...], order: np.ndarray, path: Path, cols: dict, policy: str) -> np.ndarray:
    """A boolean mask (in file order) of the rows to keep: rows that repeat an earlier row in every key
    are refused (``error``), dropped (``drop``, the first is kept) or kept (``keep``). ``order`` is a
    stable sort by every key but the last, so a repeat sits in a run of neighbours; runs are sorted again
    by the last key (the rating) to find exact repeats."""
    n = len(order)
    if policy == "keep" or n < 2:
        return np.ones(n, bool)
    same = np.ones(n - 1, bool)
    for k in keys[:-1]:
        ks = k[order]
        same &= ks[1:] == ks[:-1]
    dup = np.zeros(n, bool)
    if same.any():
        last = keys[-1]
        run = np.cumsum(np.concatenate([[True], ~same]))  # run id of each sorted position
        in_run = np.zeros(n, bool)
        in_run[1:] |= same
        in_run[:-1] |= same
        pos = np.flatnonzero(in_run)
        pos = pos[np.lexsort((order[pos], last[order[pos]], run[pos]))]  # by run, then rating, then file row
        rows = order[pos]
        eq = (run[pos][1:] == run[pos][:-1]) & (last[rows][1:] == last[rows][:-1])
        dup[rows[1:][eq]] = True
    row = _first(dup)
    if row is not None and policy == "error":
        twin = _first(np.logical_and.reduce([k == k[row] for k in keys]))
        mapped = [c for c in cols.values() if c]
        raise DataFileError(
            f"{where(path, row)}, columns {mapped}: a duplicate row ({int(dup.sum()):,} duplicate rows in all): it "
            f"repeats row {twin + 1} in every column; expected each interaction once. Choose a policy: "
            "--duplicates drop (keep the first) or --duplicates keep"
        )
    return ~dup


def check_variety(ids: dict[str, pd.Index], path: Path, cols: dict, n_rows: int) -> None:
    """A recommender needs at least two users and two items (``ids``: role → distinct ids)."""
    for role in ("user", "item"):
        if len(ids[role]) < 2:
            raise DataFileError(f"{path}, column {cols[role]!r}: a single {role} ({shown(ids[role][0])}) in {n_rows:,} "
                                f"rows; expected at least 2 {role}s (nothing to recommend or compare)")  # fmt: skip


def check_table_ids(table: pd.DataFrame, id_col: str, table_path: Path, used: pd.Series, inter_path: Path,
                    inter_col: str, role: str, codes: np.ndarray) -> pd.DataFrame:
    """The table with its ids in ``__id`` (the same type as the interactions'); refuse duplicate or empty
    ids, and interactions whose id the table lacks (naming the first such row). ``used``: the distinct ids
    of the interactions; ``codes``: each interaction's position in ``used``."""
    ids = check_ids(table[id_col], table_path, id_col, role)
    if pd.api.types.is_integer_dtype(used.dtype) != pd.api.types.is_integer_dtype(ids.dtype):
        ids, used = ids.astype("string"), used.astype("string")
    dup = ids.duplicated().to_numpy()
    row = _first(dup)
    if row is not None:
        raise DataFileError(f"{where(table_path, row)}, column {id_col!r}: {role} id {shown(ids.iloc[row])} appears twice; "
                            f"expected one row per {role}")  # fmt: skip
    lacking = ~used.isin(ids).to_numpy()
    missing = lacking[codes]
    row = _first(missing)
    if row is not None:
        raise DataFileError(
            f"{where(inter_path, row)}, column {inter_col!r}: {role} id {shown(used.iloc[codes[row]])} is not in the {role} "
            f"table {table_path} (column {id_col!r}); {int(missing.sum()):,} interactions name {int(lacking.sum()):,} "
            f"{role} id(s) it lacks; expected every {role} of the interactions in the table (do the ids match? same "
            "type, no prefix)"
        )
    out = table.drop(columns=[id_col]).assign(__id=ids.to_numpy())
    if not pd.api.types.is_integer_dtype(used.dtype):  # the interactions' ids were made text to compare
        out["__id"] = out["__id"].astype("string")
    return out
