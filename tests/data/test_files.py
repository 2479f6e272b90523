"""Interaction files: loading with a column mapping, and one clear refusal per kind of damage.

Every file is written by the test in ``tmp_path``. Each refusal goes through the model store
(`ModelStore.load_or_train`), and the test checks the message names the file, the row, the column and
what was expected, and that nothing was written to the store.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.data import DataFileError, dataset_name, load
from workbench.data.files import FileSource
from workbench.pipeline import PipelineConfig
from workbench.store import DataSpec, ModelStore

GOOD = pd.DataFrame({
    "uid": ["a", "a", "b", "b", "c", "c"],
    "iid": [10, 20, 20, 30, 10, 40],
    "ts": [100, 200, 150, 50, 300, 400],
    "stars": [4.0, 5.0, 3.0, 2.0, 1.0, 5.0],
})  # fmt: skip
MAPPING = "columns=user=uid,item=iid,timestamp=ts,rating=stars"


def write(path, frame: pd.DataFrame) -> str:
    if str(path).endswith(".parquet"):
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False, sep="\t" if str(path).endswith(".tsv") else ",")
    return str(path)


def refused(tmp_path, ref: str, *needles: str) -> str:
    """The store refuses ``ref`` with a DataFileError whose message holds every needle; nothing is written."""
    store = ModelStore(tmp_path / "store")
    with pytest.raises(DataFileError) as err:
        store.load_or_train(DataSpec(ref), PipelineConfig())
    msg = str(err.value)
    for needle in needles:
        assert needle in msg, f"{needle!r} not in: {msg}"
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").rglob("*")), "the store was written to"
    return msg


# ---- loading -------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
def test_mapped_file_loads_with_users_items_and_order_worked_out_by_hand(tmp_path, suffix):
    path = write(tmp_path / f"log{suffix}", GOOD)
    ds = load(f"{path}?{MAPPING}")
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (3, 4, 6)
    assert ds.users["user_id"].tolist() == ["a", "b", "c"]
    assert ds.items["item_id"].tolist() == [10, 20, 30, 40]
    # sorted by (user, time, item): user b's row at ts 50 (item 30) comes before ts 150 (item 20)
    inter = ds.interactions
    assert inter[["user", "item", "timestamp"]].values.tolist() == [
        [0, 0, 100], [0, 1, 200], [1, 2, 50], [1, 1, 150], [2, 0, 300], [2, 3, 400]]  # fmt: skip
    assert inter["rating"].tolist() == [4.0, 5.0, 2.0, 3.0, 1.0, 5.0]
    assert ds.reference_ts == 400


def test_default_column_names_are_found_and_missing_rating_means_implicit(tmp_path):
    frame = GOOD.rename(columns={"uid": "userId", "iid": "movieId", "ts": "timestamp"}).drop(columns="stars")
    ds = load(write(tmp_path / "log.csv", frame))
    assert (ds.n_users, ds.n_items) == (3, 4)
    assert set(ds.interactions["rating"]) == {1.0}


def test_reference_is_canonical_and_options_from_the_command_line_fold_in(tmp_path):
    path = write(tmp_path / "log.csv", GOOD)
    a = dataset_name(f"{path}?columns=user=uid,item=iid,timestamp=ts,rating=stars")
    b = FileSource.parse(path).with_options(columns="rating=stars,timestamp=ts,item=iid,user=uid").text
    assert a == b


def test_item_table_gives_titles_genres_and_cold_items(tmp_path):
    path = write(tmp_path / "log.csv", GOOD)
    items = pd.DataFrame({"iid": [10, 20, 30, 40, 50], "title": ["A", "B", "C", "D", "E"],
                          "genres": ["x|y", "y", "x", "z", "z"], "year": [1990, 2000, 2010, 2020, 2021]})  # fmt: skip
    ds = load(f"{path}?{MAPPING}&items={write(tmp_path / 'items.csv', items)}")
    assert ds.n_items == 5  # item 50 has no interaction: a cold item of the table
    assert ds.items["title"].tolist() == ["A", "B", "C", "D", "E"]
    assert ds.genre_names == ("x", "y", "z")
    assert ds.item_genres[0].tolist() == [1.0, 1.0, 0.0]
    assert ds.items["release_ts"].iloc[1] == 946_684_800  # 2000-01-01T00:00:00Z


def test_changed_file_changes_the_spec_digest(tmp_path):
    path = write(tmp_path / "log.csv", GOOD)
    before = DataSpec(f"{path}?{MAPPING}")
    write(tmp_path / "log.csv", GOOD.assign(stars=GOOD["stars"] - 1))
    after = DataSpec(f"{path}?{MAPPING}")
    assert before.digest != after.digest
    with pytest.raises(ValueError, match="changed since"):
        before.load()


def test_duplicate_policy_drop_keeps_the_first_and_counts_the_rest(tmp_path):
    frame = pd.concat([GOOD, GOOD.iloc[[1, 1, 4]]], ignore_index=True)
    path = write(tmp_path / "log.csv", frame)
    ds = load(f"{path}?{MAPPING}&duplicates=drop")
    assert ds.n_interactions == 6 and ds.notes["load_report"]["duplicate_rows_dropped"] == 3
    assert load(f"{path}?{MAPPING}&duplicates=keep").n_interactions == 9


def test_same_user_item_time_with_another_rating_is_not_a_duplicate(tmp_path):
    # rows 1, 2, 3 share (user, item, time); ratings 4, 5, 4: only row 3 repeats row 1 (not a neighbour of it)
    frame = pd.DataFrame({"uid": ["a", "a", "a", "b"], "iid": [1, 1, 1, 2], "ts": [5, 5, 5, 6], "stars": [4, 5, 4, 1]})
    path = write(tmp_path / "log.csv", frame)
    assert load(f"{path}?{MAPPING}&duplicates=drop").n_interactions == 3
    refused(tmp_path, f"{path}?{MAPPING}", "row 3 (line 4)", "repeats row 1", "1 duplicate rows")


# ---- one refusal per kind of damage --------------------------------------------------------------


def test_misspelt_mapped_column_names_the_closest(tmp_path):
    path = write(tmp_path / "log.csv", GOOD)
    refused(tmp_path, f"{path}?columns=user=uidd,item=iid", path, "'uidd'", "did you mean 'uid'", "columns:")


def test_missing_user_column_lists_the_expected_names(tmp_path):
    path = write(tmp_path / "log.csv", GOOD.rename(columns={"uid": "usr_id"}))
    refused(tmp_path, f"{path}?columns=item=iid", path, "column for user", "user_id", "--columns user=NAME", "'usr_id'")


def test_non_numeric_timestamp_names_row_and_value(tmp_path):
    frame = GOOD.assign(ts=GOOD["ts"].astype(str))
    frame.loc[3, "ts"] = "yesterday"
    path = write(tmp_path / "log.csv", frame)
    refused(tmp_path, f"{path}?{MAPPING}", path, "row 4 (line 5)", "'ts'", "'yesterday'", "expected Unix seconds")


def test_millisecond_timestamps_are_out_of_range(tmp_path):
    path = write(tmp_path / "log.parquet", GOOD.assign(ts=GOOD["ts"] + 1_700_000_000_000))
    refused(tmp_path, f"{path}?{MAPPING}", path, "row 1", "'ts'", "out of range", "milliseconds", "[0, 4102444800)")


def test_empty_item_id(tmp_path):
    frame = GOOD.assign(iid=GOOD["iid"].astype(str))
    frame.loc[2, "iid"] = ""
    path = write(tmp_path / "log.csv", frame)
    refused(tmp_path, f"{path}?{MAPPING}", path, "row 3 (line 4)", "'iid'", "empty item id", "expected an item id")


def test_nan_rating(tmp_path):
    path = write(tmp_path / "log.parquet", GOOD.assign(stars=[4.0, np.nan, 3.0, 2.0, 1.0, 5.0]))
    refused(tmp_path, f"{path}?{MAPPING}", path, "row 2", "'stars'", "NaN", "expected a finite number")


def test_duplicate_rows_are_refused_by_default(tmp_path):
    path = write(tmp_path / "log.csv", pd.concat([GOOD, GOOD.iloc[[4]]], ignore_index=True))
    refused(tmp_path, f"{path}?{MAPPING}", path, "row 7 (line 8)", "repeats row 5", "--duplicates drop")


def test_single_user(tmp_path):
    path = write(tmp_path / "log.csv", GOOD.assign(uid="a"))
    refused(tmp_path, f"{path}?{MAPPING}", path, "'uid'", "a single user", "expected at least 2 users")


def test_single_item(tmp_path):
    path = write(tmp_path / "log.tsv", GOOD.assign(iid=7, ts=range(6)))
    refused(tmp_path, f"{path}?{MAPPING}", path, "'iid'", "a single item", "expected at least 2 items")


def test_item_table_whose_ids_do_not_match(tmp_path):
    path = write(tmp_path / "log.csv", GOOD)
    items = write(tmp_path / "items.csv", pd.DataFrame({"iid": [10, 20, 30], "title": ["A", "B", "C"]}))
    refused(tmp_path, f"{path}?{MAPPING}&items={items}", path, "row 6 (line 7)", "'iid'", "item id 40",
            "not in the item table", items)  # fmt: skip


def test_mixed_encodings(tmp_path):
    path = tmp_path / "log.csv"
    path.write_bytes("uid,iid,ts,stars\nZoë,10,100,4\nb,20,150,3\n".encode() + "Zoë,30,50,2\n".encode("latin-1"))
    refused(tmp_path, f"{path}?{MAPPING}", str(path), "line 4", "0xeb", "mixes encodings", "--encoding latin-1")


def test_latin1_file_loads_with_its_encoding(tmp_path):
    path = tmp_path / "log.csv"
    path.write_bytes("uid,iid,ts,stars\nZoë,10,100,4\nb,20,150,3\n".encode("latin-1"))
    assert load(f"{path}?{MAPPING}&encoding=latin-1").users["user_id"].tolist() == ["Zoë", "b"]


def test_truncated_parquet(tmp_path):
    full = tmp_path / "full.parquet"
    GOOD.to_parquet(full)
    cut = tmp_path / "log.parquet"
    cut.write_bytes(full.read_bytes()[:-40])
    refused(tmp_path, f"{cut}?{MAPPING}", str(cut), "not a readable Parquet file", "truncated", "PAR1")


def test_empty_file(tmp_path):
    path = tmp_path / "log.csv"
    path.write_bytes(b"")
    refused(tmp_path, f"{path}?{MAPPING}", str(path), "empty file (0 bytes)", "expected a header row")


def test_header_without_rows(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("uid,iid,ts,stars\n")
    refused(tmp_path, f"{path}?{MAPPING}", str(path), "no rows", "expected at least one row")


def test_cli_refuses_mapping_without_a_file_and_a_bad_file_with_status_2(tmp_path, capsys):
    from workbench.cli import main

    assert main(["evaluate", "--columns", "user=uid"]) == 2
    assert "expected --data PATH" in capsys.readouterr().err
    path = write(tmp_path / "log.csv", GOOD.assign(uid="a"))
    assert main(["evaluate", "--data", path, "--columns", "user=uid,item=iid,timestamp=ts,rating=stars"]) == 2
    assert "a single user" in capsys.readouterr().err
    assert main(["evaluate", "--data", str(tmp_path / "nope.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["evaluate"], ["abtest"], ["interleave"], ["report"], ["notebooks"], ["train"], ["serve"], ["loadtest"],
    ["loop"], ["sweep", "configs/sweep_rerank.toml"], ["ope"], ["data"],
])  # fmt: skip
def test_every_data_command_takes_a_file_and_its_mapping(tmp_path, argv):
    from workbench.arguments import finish_data_args
    from workbench.cli import build_parser

    path = write(tmp_path / "log.csv", GOOD)
    data = [path] if argv == ["data"] else ["--data", path]
    args = finish_data_args(build_parser().parse_args([*argv, *data, "--columns", "user=uid,item=iid,timestamp=ts,rating=stars"]))
    assert args.data == FileSource.parse(f"{path}?{MAPPING}").text
