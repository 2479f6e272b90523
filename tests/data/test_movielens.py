import re
import shutil

import numpy as np
import pytest

from workbench.data import DataFileError, fetch_movielens_100k, load, load_movielens_100k
from workbench.data.movielens import GENRES, MANIFEST, RECBOLE_SHA256S, write_manifest

GENRE_FLAGS = {"Toy": "Animation Children's Comedy", "Heat": "Action Crime Thriller", "Odd": ""}


def write_grouplens(root, extra_data=""):
    root.mkdir(parents=True)
    (root / "u.data").write_text("1\t10\t5\t881250949\n2\t10\t3\t881250950\n1\t20\t4\t881250960\n2\t30\t2\t881250990\n" + extra_data)
    lines = []
    for iid, (title, year) in zip((10, 20, 30), (("Toy", 1995), ("Heat", 1995), ("Odd", 1971))):
        flags = ["1" if g in GENRE_FLAGS[title].split(" ") else "0" for g in GENRES]
        if title == "Odd":
            flags[0] = "1"
        lines.append("|".join([str(iid), f"{title} ({year})", f"01-Jan-{year}", "", "http://x", *flags]))
    (root / "u.item").write_text("\n".join(lines) + "\n", encoding="latin-1")
    (root / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|32067\n")


def write_recbole(root):
    root.mkdir(parents=True)
    (root / "ml-100k.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        "1\t10\t5\t881250949\n2\t10\t3\t881250950\n1\t20\t4\t881250960\n2\t30\t2\t881250990\n"
    )
    (root / "ml-100k.item").write_text(
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        + "".join(f"{i}\t{t}\t{y}\t{GENRE_FLAGS[t]}\n" for i, t, y in ((10, "Toy", 1995), (20, "Heat", 1995), (30, "Odd", 1971)))
    )
    (root / "ml-100k.user").write_text(
        "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
        "1\t24\tM\ttechnician\t85711\n2\t53\tF\tother\t94043\n3\t23\tM\twriter\t32067\n"
    )


def test_both_layouts_give_the_same_dataset(tmp_path):
    write_grouplens(tmp_path / "gl" / "ml-100k")
    write_recbole(tmp_path / "rb" / "ml-100k")
    a = load_movielens_100k(tmp_path / "gl", fetch=False, verify=False)
    b = load_movielens_100k(tmp_path / "rb", fetch=False, verify=False)
    assert a.interactions.equals(b.interactions)
    assert np.array_equal(a.item_genres, b.item_genres)
    assert np.array_equal(a.item_features, b.item_features)
    cols = ["item_id", "title", "category", "release_ts", "age_days", "available", "promoted"]
    assert a.items[cols].equals(b.items[cols])
    assert a.users.equals(b.users)


def test_items_and_users_carry_their_fields(tmp_path):
    write_recbole(tmp_path / "ml-100k")
    ds = load_movielens_100k(tmp_path, fetch=False, verify=False)
    assert ds.n_users == 3 and ds.n_items == 3 and ds.n_interactions == 4
    toy = ds.items.iloc[0]
    assert toy["title"] == "Toy" and toy["release_year"] == 1995
    assert ds.genre_names[int(toy["category"])] == "Animation"  # first listed in GroupLens genre order
    assert ds.item_genres[0].sum() == 3 and ds.item_genres[2, GENRES.index("unknown")] == 1
    # age in days from 1 Jan 1995 to the last timestamp (881250990 = 1997-12-04 15:56:30 UTC)
    assert ds.items["age_days"].iloc[0] == pytest.approx((881250990 - 788918400) / 86400)
    assert ds.users["occupation"].tolist() == ["technician", "other", "writer"]
    assert ds.notes["load_report"]["users_without_interactions"] == 1  # user 3 is kept, and reported


def test_duplicates_and_unknown_ids_are_reported_not_silently_dropped(tmp_path):
    write_grouplens(tmp_path / "ml-100k", extra_data="1\t10\t1\t881250999\n9\t10\t3\t881250999\n1\t77\t3\t881250999\n")
    ds = load_movielens_100k(tmp_path, fetch=False, verify=False)
    report = ds.notes["load_report"]
    assert report["duplicate_interactions_collapsed"] == 1
    assert report["unknown_id_interactions"] == 2
    assert {"user_id": 9, "item_id": 10} in report["unknown_id_examples"]
    # the later duplicate (rating 1) wins
    assert ds.rating_matrix[0, 0] == 1


def test_malformed_file_names_file_and_line(tmp_path):
    write_grouplens(tmp_path / "ml-100k", extra_data="3\tten\t4\t881250999\n")
    with pytest.raises(DataFileError, match=r"u\.data, line 5: field 'item_id' is 'ten'"):
        load_movielens_100k(tmp_path, fetch=False, verify=False)


def test_truncated_file_names_file_and_line(tmp_path):
    write_recbole(tmp_path / "ml-100k")
    inter = tmp_path / "ml-100k" / "ml-100k.inter"
    inter.write_text(inter.read_text() + "3\t20")
    with pytest.raises(DataFileError, match=r"ml-100k\.inter, line 6: field 'rating'"):
        load_movielens_100k(tmp_path, fetch=False, verify=False)


def test_missing_cache_without_fetch_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not cached"):
        load_movielens_100k(tmp_path, fetch=False)


def test_real_movielens_100k_fetched_and_loaded():
    """The real data set (fetched into data/ on first use: GroupLens, else the recbole wheel on PyPI)."""
    ds = load_movielens_100k("data")
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (943, 1682, 100_000)
    assert ds.interactions["rating"].mean() == pytest.approx(3.52986, abs=1e-5)
    assert ds.item_genres.shape == (1682, 19)
    assert (ds.user_activity >= 20).all()  # GroupLens: every user rated at least 20 films
    assert 0.93 < ds.item_available.mean() < 0.97


@pytest.fixture
def cache_copy(tmp_path):
    """A copy of the real cache (fetched into data/ on first use) and the name of its interactions file."""
    root = fetch_movielens_100k("data")
    shutil.copytree(root, tmp_path / "ml-100k")
    inter = "u.data" if (root / "u.data").is_file() else "ml-100k.inter"
    return tmp_path, tmp_path / "ml-100k" / inter


def test_a_truncated_cache_is_refused_naming_the_file(cache_copy, capsys):
    """The issue's case: the interactions file cut to its first 50 KB used to load (2,559 interactions)."""
    cache, inter = cache_copy
    inter.write_bytes(inter.read_bytes()[:50_000])
    pattern = re.escape(str(inter)) + r": .*expected"
    with pytest.raises(DataFileError, match=pattern):
        load_movielens_100k(cache)
    with pytest.raises(DataFileError, match=pattern):
        load("movielens-100k", cache_dir=str(cache))
    if inter.name == "ml-100k.inter":  # RecBole's files: the known digest and size are named
        with pytest.raises(DataFileError, match=f"50,000 bytes.*expected SHA-256 {RECBOLE_SHA256S[inter.name][0]}, 1,979,230 bytes"):
            load_movielens_100k(cache)
    from workbench.cli import main

    assert main(["evaluate", "--data", "movielens-100k", "--cache-dir", str(cache)]) == 2
    err = capsys.readouterr().err
    assert f"workbench evaluate: error: {inter}: " in err and "Delete" in err


def test_an_edit_that_keeps_the_counts_is_refused(cache_copy):
    """One rating changed (same size, same counts): only the checksum can tell."""
    cache, inter = cache_copy
    lines = inter.read_text(encoding="latin-1").split("\n")
    row = 1 if inter.name == "ml-100k.inter" else 0  # RecBole files have a header line
    fields = lines[row].split("\t")
    fields[2] = "1" if fields[2] != "1" else "2"
    lines[row] = "\t".join(fields)
    inter.write_text("\n".join(lines), encoding="latin-1")
    assert len(load_movielens_100k(cache, verify=False).interactions) == 100_000  # the counts still match
    with pytest.raises(DataFileError, match=re.escape(str(inter)) + ": the cached file is damaged"):
        load_movielens_100k(cache)


def test_files_placed_by_hand_are_held_to_the_published_sizes(tmp_path):
    """GroupLens files without the fetch's manifest: the counts check names the file and the expected size."""
    write_grouplens(tmp_path / "ml-100k")
    with pytest.raises(DataFileError, match=r"u\.data: holds 4 interactions; expected 100,000"):
        load_movielens_100k(tmp_path, fetch=False)


def test_the_fetch_manifest_is_verified(tmp_path):
    root = tmp_path / "ml-100k"
    write_grouplens(root)
    manifest = write_manifest(root, ("u.data", "u.item", "u.user"))
    assert manifest.name == MANIFEST and len(manifest.read_text().splitlines()) == 3
    # checksums pass, so the counts check is what refuses these tiny files
    with pytest.raises(DataFileError, match="holds 4 interactions"):
        load_movielens_100k(tmp_path, fetch=False)
    (root / "u.user").write_text((root / "u.user").read_text().replace("technician", "programmer"))
    with pytest.raises(DataFileError, match=r"u\.user: the cached file is damaged .*expected SHA-256"):
        load_movielens_100k(tmp_path, fetch=False)
    manifest.write_text("not a checksum line\n")
    with pytest.raises(DataFileError, match=f"{MANIFEST}, line 1: 'not a checksum line', expected"):
        load_movielens_100k(tmp_path, fetch=False)
