"""The MovieLens family: each loader on a small archive the test writes in that archive's exact layout.

No GroupLens archive can be downloaded where the tests run, so each test writes a zip with the same
folder, file names, separators, header (or none) and encoding as the real one, passes that zip's own
MD5 as the expected checksum (or serves it, with its ``.md5``, from a local HTTP server laid out as
GroupLens' site), and checks what the loader read against what it wrote.
"""

from __future__ import annotations

import hashlib
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workbench.data import DataFileError, dataset_name, load
from workbench.data.movielens_family import FAMILY, PUBLISHED_MD5, _load, load_movielens

DAT_RATINGS = "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n2::1::2.5::978299000\n3::661::1::978299500\n"
DAT_MOVIES = "1::Toy Story (1995)::Animation|Children's|Comedy\n661::James and the Giant Peach (1996)::Animation|Musical\n1193::Léon (1994)::Crime|Drama\n2000::Never Rated (1999)::Drama\n"
DAT_USERS = "1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::15::55117\n"
CSV_RATINGS = "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.5,964981247\n2,1,3.5,964982224\n2,6,5.0,964983815\n3,3,1.0,964982931\n"
CSV_MOVIES = ('movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n3,"American President, The (1995)",Comedy|Romance\n'
              '6,Heat (1995),Action|Crime|Thriller\n7,Sabrina (1995),Comedy\n')  # fmt: skip


def archive(tmp_path, name: str, files: dict[str, bytes]) -> str:
    spec = FAMILY[name]
    path = tmp_path / spec.archive
    with zipfile.ZipFile(path, "w") as zf:
        for member, blob in files.items():
            zf.writestr(f"{spec.folder}/{member}", blob)
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_ml_1m_dat_latin1_with_users(tmp_path):
    md5 = archive(tmp_path, "movielens-1m", {"ratings.dat": DAT_RATINGS.encode(), "movies.dat": DAT_MOVIES.encode("latin-1"),
                                            "users.dat": DAT_USERS.encode(), "README": b"readme"})  # fmt: skip
    ds = load_movielens("movielens-1m", tmp_path, fetch=False, md5=md5, ratings=5)
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (3, 4, 5)  # movie 2000 has no rating: a cold item
    assert ds.items["item_id"].tolist() == [1, 661, 1193, 2000]
    assert ds.items["title"].tolist() == ["Toy Story", "James and the Giant Peach", "Léon", "Never Rated"]
    assert ds.items["release_ts"].iloc[2] == 757_382_400  # 1994-01-01T00:00:00Z
    assert set(ds.genre_names) == {"Animation", "Children's", "Comedy", "Musical", "Crime", "Drama"}
    assert ds.users["gender"].tolist() == ["F", "M", "M"]
    assert sorted(ds.interactions["rating"].tolist()) == [1.0, 2.5, 3.0, 4.0, 5.0]


def test_ml_10m_dat_in_its_folder(tmp_path):
    md5 = archive(tmp_path, "movielens-10m", {"ratings.dat": DAT_RATINGS.encode(), "movies.dat": DAT_MOVIES.encode()})
    ds = load_movielens("movielens-10m", tmp_path, fetch=False, md5=md5, ratings=5)
    assert ds.items["title"].iloc[2] == "Léon" and ds.n_interactions == 5


@pytest.mark.parametrize("name", ["movielens-20m", "movielens-25m", "movielens-32m", "movielens-latest-small"])
def test_csv_archives(tmp_path, name):
    md5 = archive(tmp_path, name, {"ratings.csv": CSV_RATINGS.encode(), "movies.csv": CSV_MOVIES.encode(),
                                   "links.csv": b"movieId,imdbId,tmdbId\n"})  # fmt: skip
    ds = load_movielens(name, tmp_path, fetch=False, md5=md5, ratings=5)
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (3, 4, 5)
    assert ds.items["title"].iloc[1] == "American President, The"
    user2 = ds.interactions[ds.interactions["user"] == 1]
    assert user2["timestamp"].tolist() == [964982224, 964983815]  # user 2's two ratings, in time order


def test_a_damaged_archive_is_refused(tmp_path):
    archive(tmp_path, "movielens-20m", {"ratings.csv": CSV_RATINGS.encode(), "movies.csv": CSV_MOVIES.encode()})
    with pytest.raises(DataFileError, match=f"expected the published {PUBLISHED_MD5['movielens-20m']}"):
        load_movielens("movielens-20m", tmp_path, fetch=False)


@pytest.fixture
def grouplens(tmp_path):
    """A real HTTP server on 127.0.0.1 serving a folder laid out as files.grouplens.org/datasets/movielens/
    (the archives and their ``.md5`` files the test writes there): ``(folder, base_url)``."""
    folder = tmp_path / "served"
    folder.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no request lines in the test output
        pass


CSV_FILES = {"ratings.csv": CSV_RATINGS.encode(), "movies.csv": CSV_MOVIES.encode()}


@pytest.mark.parametrize("name", ["movielens-32m", "movielens-latest-small"])
def test_an_unpinned_archive_is_verified_against_the_published_md5(grouplens, tmp_path, name):
    served, url = grouplens
    md5 = archive(served, name, CSV_FILES)
    spec = FAMILY[name]
    (served / f"{spec.archive}.md5").write_text(f"{md5}  {spec.archive}\n")  # md5sum's format, as GroupLens has it
    cache = tmp_path / "cache"
    assert PUBLISHED_MD5[name] is None  # nothing pinned: the served .md5 is the only checksum
    assert load_movielens(name, cache, ratings=5, base_url=url).n_interactions == 5
    assert (cache / spec.archive).read_bytes() == (served / spec.archive).read_bytes()
    assert (cache / f"{spec.archive}.md5").read_text().split()[0] == md5  # kept beside it
    for f in served.iterdir():
        f.unlink()  # GroupLens unreachable now: the kept .md5 still verifies the cached archive
    _load.cache_clear()
    assert load_movielens(name, cache, ratings=5, base_url=url, fetch=False).n_interactions == 5


def test_a_rebuilt_archive_that_differs_from_its_md5_is_not_kept(grouplens, tmp_path):
    served, url = grouplens
    md5 = archive(served, "movielens-latest-small", CSV_FILES)
    stale = hashlib.md5(b"an older build").hexdigest()
    (served / "ml-latest-small.zip.md5").write_text(f"{stale}  ml-latest-small.zip\n")
    cache = tmp_path / "cache"
    with pytest.raises(DataFileError, match=f"MD5 {md5} differs from the published {stale}"):
        load_movielens("movielens-latest-small", cache, base_url=url)
    assert list(cache.iterdir()) == []  # neither the archive nor the checksum


def test_a_hand_placed_archive_without_a_reachable_md5_is_refused(grouplens, tmp_path):
    served, url = grouplens
    archive(tmp_path, "movielens-32m", CSV_FILES)  # in the cache by hand; the server has no ml-32m.zip.md5 (404)
    with pytest.raises(DataFileError, match=r"its published checksum could not be fetched from .*ml-32m\.zip\.md5"):
        load_movielens("movielens-32m", tmp_path, base_url=url)
    assert not (tmp_path / "ml-32m.zip.md5").exists()
    assert load_movielens("movielens-32m", tmp_path, fetch=False, verify=False).n_interactions == 5
    (served / "ml-32m.zip.md5").write_text("<html>not found</html>")
    with pytest.raises(DataFileError, match="is not an MD5 checksum; expected 32 hexadecimal digits"):
        load_movielens("movielens-32m", tmp_path, base_url=url)
    (tmp_path / "ml-32m.zip.md5").write_text(hashlib.md5(b"x").hexdigest() + "  ml-32m.zip\n")  # placed, wrong
    with pytest.raises(DataFileError, match="expected the published"):
        load_movielens("movielens-32m", tmp_path, base_url=url, ratings=5)


def test_wrong_rating_count_and_bad_rows_are_refused(tmp_path):
    md5 = archive(tmp_path, "movielens-1m", {"ratings.dat": (DAT_RATINGS + "4::1::x::978299600\n").encode(),
                                            "movies.dat": DAT_MOVIES.encode("latin-1"), "users.dat": DAT_USERS.encode()})  # fmt: skip
    with pytest.raises(DataFileError, match="6 ratings; expected 1,000,209"):
        load_movielens("movielens-1m", tmp_path, fetch=False, md5=md5)
    with pytest.raises(DataFileError, match=r"ratings.dat, row 6 \(line 6\), column 'rating': rating is 'x'"):
        load_movielens("movielens-1m", tmp_path, fetch=False, md5=md5, ratings=6)


def test_names_and_aliases():
    assert dataset_name("ml-latest-small") == "movielens-latest-small"
    assert {dataset_name(f"ml-{s}") for s in ("1m", "10m", "20m", "25m", "32m")} == set(FAMILY) - {"movielens-latest-small"}
