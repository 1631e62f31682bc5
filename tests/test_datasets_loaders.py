"""Tests of the file-based loaders, the MovieLens download and the synthetic generator.

The loaders read the real files in the shared data folder ($SKLEARN_HAMUR_DATA, else
../shared/data from the repository root); every count asserted here was computed from
those files and is checked again against a plain pandas reading of them.
"""

import functools
import hashlib
import http.server
import os
import socket
import threading
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sklearn_hamur.datasets import (
    _fetch,
    fetch_movielens,
    get_data_home,
    load_aliccp,
    load_douban,
    load_movielens,
    make_multi_domain_classification,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SKLEARN_HAMUR_DATA", REPO_ROOT.parent / "shared" / "data"))
ML100K = SHARED_DATA / "movielens-100k"
DOUBAN = SHARED_DATA / "douban"
ALICCP = SHARED_DATA / "ali-ccp-sample"


def needs(folder: Path):
    return pytest.mark.skipif(
        not folder.is_dir(),
        reason=f"{folder} not found; set SKLEARN_HAMUR_DATA to the shared data folder",
    )


# -- MovieLens -----------------------------------------------------------------------------

ML_FEATURES = ["user_id", "movie_id", "gender", "occupation", "zip", "genre", "genres", "year"]
ML_DOMAIN_ROWS = {0: 26_551, 1: 35_444, 2: 38_005}
ML_DOMAIN_POSITIVES = {0: 14_237, 1: 19_190, 2: 21_948}


@pytest.fixture(scope="module")
def ml100k():
    return load_movielens(ML100K)


@needs(ML100K)
def test_movielens_100k_shape_columns_and_dtypes(ml100k):
    assert ml100k.data.shape == (100_000, 9)
    assert ml100k.feature_names == [*ML_FEATURES, "domain"]
    assert list(ml100k.frame.columns) == [*ML_FEATURES, "domain", "rating_gt_3"]
    for column in ML_FEATURES[:-1]:
        assert isinstance(ml100k.data[column].dtype, pd.CategoricalDtype), column
    assert ml100k.data["year"].dtype == np.float64
    assert ml100k.data["domain"].dtype == np.int64
    assert ml100k.target.dtype == np.int64
    cardinality = {c: ml100k.data[c].nunique() for c in ML_FEATURES}
    assert cardinality == {
        "user_id": 943,
        "movie_id": 1_682,
        "gender": 2,
        "occupation": 21,
        "zip": 795,
        "genre": 19,
        "genres": 216,
        "year": 71,
    }
    # One movie (id 267, rated 9 times) has no release date.
    no_year = ml100k.data["year"].isna()
    assert no_year.sum() == 9 and set(ml100k.data["movie_id"][no_year]) == {"267"}
    assert list(ml100k.domain_names) == ["under 25", "25-34", "35 and over"]
    assert "GroupLens" in ml100k.DESCR and "26,551" in ml100k.DESCR


@needs(ML100K)
def test_movielens_100k_domains_and_labels(ml100k):
    assert ml100k.domain.value_counts().to_dict() == ML_DOMAIN_ROWS
    assert int(ml100k.target.sum()) == 55_375
    assert ml100k.target.groupby(ml100k.domain).sum().to_dict() == ML_DOMAIN_POSITIVES
    users = ml100k.data.groupby("domain", observed=True)["user_id"].nunique().to_dict()
    assert users == {0: 234, 1: 310, 2: 399}


@needs(ML100K)
def test_movielens_100k_matches_a_plain_reading_of_the_files(ml100k):
    ratings = pd.read_csv(ML100K / "u.data", sep="\t", names=["user", "item", "rating", "ts"])
    users = pd.read_csv(ML100K / "u.user", sep="|", names=["user", "age", "g", "o", "zip"])
    age = ratings.merge(users, on="user", how="left")["age"]
    expected_domain = np.where(age < 25, 0, np.where(age < 35, 1, 2))
    np.testing.assert_array_equal(ml100k.domain.to_numpy(), expected_domain)
    np.testing.assert_array_equal(ml100k.target.to_numpy(), (ratings["rating"] > 3).astype(int))
    np.testing.assert_array_equal(ml100k.data["user_id"].astype(str), ratings["user"].astype(str))
    # Toy Story (movie 1): Animation|Children's|Comedy, 1995.
    toy_story = ml100k.data[ml100k.data["movie_id"] == "1"].iloc[0]
    assert toy_story["genres"] == "Animation|Children's|Comedy"
    assert toy_story["genre"] == "Animation" and toy_story["year"] == 1995


@needs(ML100K)
def test_movielens_return_X_y_and_arrays():
    X, y = load_movielens(ML100K, return_X_y=True)
    assert X.shape == (100_000, 9) and y.name == "rating_gt_3"
    arrays = load_movielens(ML100K, as_frame=False)
    assert isinstance(arrays.data, np.ndarray) and arrays.data.dtype == object
    assert arrays.frame is None and arrays.target.dtype == np.int64
    np.testing.assert_array_equal(arrays.data[:, -1].astype(int), arrays.domain)


def write_ml1m(folder: Path, *, ratings=None, users=None) -> Path:
    """A three-user folder in the ml-1m file format ('::' separators, codes)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ratings or ["1::10::5::978300760", "2::10::3::978302109", "3::20::4::978301968"]
    (folder / "ratings.dat").write_text("\n".join(lines) + "\n", encoding="latin-1")
    users = users or ["1::F::1::10::48067", "2::M::25::16::70072", "3::M::56::0::02138"]
    (folder / "users.dat").write_text("\n".join(users) + "\n", encoding="latin-1")
    movies = [
        "10::GoldenEye (1995)::Action|Adventure|Thriller",
        "20::Star Wars: Episode IV - A New Hope (1977)::Action|Sci-Fi",
    ]
    (folder / "movies.dat").write_text("\n".join(movies) + "\n", encoding="latin-1")
    return folder


def test_movielens_1m_format_codes_and_domains(tmp_path):
    bunch = load_movielens(write_ml1m(tmp_path / "ml-1m"), variant="1m")
    data = bunch.data
    assert data["domain"].tolist() == [0, 1, 2]  # age codes 1, 25, 56
    assert bunch.target.tolist() == [1, 0, 1]
    assert data["occupation"].astype(str).tolist() == ["K-12 student", "self-employed", "other"]
    assert data["genre"].astype(str).tolist() == ["Action", "Action", "Action"]
    assert data["genres"].astype(str).tolist()[2] == "Action|Sci-Fi"
    assert data["year"].tolist() == [1995.0, 1995.0, 1977.0]
    assert data["zip"].astype(str).tolist() == ["48067", "70072", "02138"]  # leading zero kept


def test_movielens_1m_unknown_age_code_names_the_file(tmp_path):
    folder = write_ml1m(tmp_path / "ml-1m", users=["1::F::30::10::48067"], ratings=["1::10::5::1"])
    with pytest.raises(ValueError, match=r"users\.dat.*unknown age code 30"):
        load_movielens(folder, variant="1m")


def test_movielens_missing_folder_and_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"folder .*nowhere.* u\.data, u\.user, u\.item"):
        load_movielens(tmp_path / "nowhere")
    folder = write_ml1m(tmp_path / "ml-1m")
    (folder / "users.dat").unlink()
    with pytest.raises(FileNotFoundError, match=r"\['users\.dat'\] not found.*ml-1m archive"):
        load_movielens(folder, variant="1m")


@needs(ML100K)
def test_movielens_wrong_separator_names_file_and_separator(tmp_path):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    for name in ("u.data", "u.item"):
        (folder / name).symlink_to(ML100K / name)
    users = (ML100K / "u.user").read_text().replace("|", ",")
    (folder / "u.user").write_text(users)
    with pytest.raises(ValueError, match=r"u\.user.*expected 5 fields separated by '\|'"):
        load_movielens(folder)


def test_movielens_rating_of_unknown_user_is_an_error(tmp_path):
    folder = write_ml1m(tmp_path / "ml-1m", ratings=["9::10::5::1"])
    with pytest.raises(ValueError, match=r"ratings\.dat' rates user_id 9.*users\.dat"):
        load_movielens(folder, variant="1m")


def test_movielens_bad_arguments_reported_together(tmp_path):
    with pytest.raises(ValueError) as info:
        load_movielens(tmp_path, variant="1M", as_frame="yes")
    message = str(info.value)
    assert "'variant' parameter of load_movielens" in message
    assert "Did you mean variant='1m'?" in message and "'as_frame'" in message
    with pytest.raises(TypeError, match="'path' parameter of load_movielens"):
        load_movielens(None)


# -- fetch_movielens, against a local server -----------------------------------------------


@pytest.fixture(scope="module")
def ml100k_zip(tmp_path_factory):
    """A zip in the layout of GroupLens' ml-100k.zip, built from the shared files."""
    if not ML100K.is_dir():
        pytest.skip(f"{ML100K} not found")
    root = tmp_path_factory.mktemp("served")
    with zipfile.ZipFile(root / "ml-100k.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("README", "u.data", "u.user", "u.item", "u.genre"):
            zf.write(ML100K / name, f"ml-100k/{name}")
    return root / "ml-100k.zip"


@pytest.fixture
def server(ml100k_zip):
    """An HTTP server on 127.0.0.1 serving the zip's folder; counts its GET requests."""
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    handler = functools.partial(Handler, directory=str(ml100k_zip.parent))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{httpd.server_port}/", "requests": requests, "httpd": httpd}
    httpd.shutdown()
    httpd.server_close()


def test_fetch_downloads_once_verifies_and_caches(server, ml100k_zip, tmp_path, monkeypatch):
    built = ml100k_zip.read_bytes()
    archive = _fetch.Archive("ml-100k.zip", len(built), hashlib.sha256(built).hexdigest())
    monkeypatch.setitem(_fetch.ARCHIVES, "100k", archive)
    cache = tmp_path / "cache"

    first = fetch_movielens("100k", data_home=cache, base_url=server["url"])
    assert server["requests"] == ["/ml-100k.zip"]
    assert (cache / "movielens" / "ml-100k.zip").read_bytes() == built
    for name in ("u.data", "u.user", "u.item"):
        assert (cache / "movielens" / "ml-100k" / name).is_file()
    assert not list(cache.rglob("*.part"))
    expected = load_movielens(ML100K)
    pd.testing.assert_frame_equal(first.frame, expected.frame)

    server["httpd"].shutdown()  # the second call must not need the network
    X, y = fetch_movielens("100k", data_home=cache, base_url=server["url"], return_X_y=True)
    assert server["requests"] == ["/ml-100k.zip"]
    pd.testing.assert_series_equal(y, expected.target)


def test_fetch_checksum_mismatch_is_a_clear_error(server, tmp_path):
    # The served zip is not byte-identical to GroupLens' archive, so it must be refused.
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match=r"not the official ml-100k\.zip.*SHA-256") as info:
        fetch_movielens("100k", data_home=cache, base_url=server["url"])
    assert _fetch.ARCHIVES["100k"].sha256 in str(info.value)
    assert not any(p.is_file() for p in cache.rglob("*"))


def test_fetch_offline_is_a_clear_error(tmp_path):
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(OSError, match=r"could not download .*load_movielens\(path\)"):
        fetch_movielens("100k", data_home=tmp_path, base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(FileNotFoundError, match="download_if_missing=False"):
        fetch_movielens("1m", data_home=tmp_path, download_if_missing=False)


def test_data_home_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SKLEARN_HAMUR_DATA_HOME", str(tmp_path / "from_env"))
    assert get_data_home() == tmp_path / "from_env" and get_data_home().is_dir()
    assert get_data_home(tmp_path / "given") == tmp_path / "given"


# -- Douban --------------------------------------------------------------------------------

DOUBAN_FILES = [
    f"douban_{d}_{s}.csv" for s in ("train", "val", "test") for d in ("music", "book", "movie")
]


@needs(DOUBAN)
def test_douban_all_pools_existing_files_and_warns_about_movie_train():
    with pytest.warns(UserWarning, match=r"douban_movie_train\.csv.*not found"):
        douban = load_douban(DOUBAN)
    assert douban.missing_files == ["douban_movie_train.csv"]
    assert douban.files == [f for f in DOUBAN_FILES if f != "douban_movie_train.csv"]
    assert douban.data.shape == (325_848, 3)
    assert douban.feature_names == ["user_id", "item_id", "domain"]
    assert douban.domain.value_counts().to_dict() == {2: 226_684, 1: 96_041, 0: 3_123}
    assert int(douban.target.sum()) == 209_551
    positives = douban.target.groupby(douban.domain).sum().to_dict()
    assert positives == {0: 2_445, 1: 69_211, 2: 137_895}
    assert douban.data["user_id"].nunique() == 2_690
    assert douban.data["item_id"].nunique() == 18_223
    assert isinstance(douban.data["user_id"].dtype, pd.CategoricalDtype)
    assert list(douban.domain_names) == ["music", "book", "movie"]

    raw = pd.concat([pd.read_csv(DOUBAN / f) for f in douban.files], ignore_index=True)
    np.testing.assert_array_equal(douban.domain, raw["0"])
    np.testing.assert_array_equal(douban.target, raw["3"])
    np.testing.assert_array_equal(douban.data["item_id"].astype(int), raw["2"])


@needs(DOUBAN)
@pytest.mark.parametrize(
    "split, rows, positives",
    [
        ("val", {0: 312, 1: 9_604, 2: 113_342}, 76_090),
        ("test", {0: 313, 1: 9_605, 2: 113_342}, 76_178),
    ],
)
def test_douban_val_and_test_splits(split, rows, positives, recwarn):
    douban = load_douban(DOUBAN, split=split)
    assert douban.domain.value_counts().to_dict() == rows
    assert int(douban.target.sum()) == positives
    assert douban.missing_files == [] and len(recwarn) == 0


@needs(DOUBAN)
def test_douban_train_split_has_no_movie_rows():
    with pytest.warns(UserWarning, match="movie_train"):
        train = load_douban(DOUBAN, split="train")
    assert train.domain.value_counts().to_dict() == {1: 76_832, 0: 2_498}
    assert int(train.target.sum()) == 57_283


@pytest.mark.filterwarnings("ignore:load_douban. file")
def test_douban_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="none of the files of split='val'"):
        load_douban(tmp_path, split="val")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_douban(tmp_path / "nowhere")
    (tmp_path / "douban_music_val.csv").write_text("0;1;2;3\n0;5;7;1\n")
    with pytest.raises(ValueError, match=r"douban_music_val\.csv.*missing column.*separator"):
        load_douban(tmp_path, split="val")
    (tmp_path / "douban_music_val.csv").write_text("0,1,2,3\n1,5,7,1\n")
    with pytest.raises(ValueError, match=r"douban_music_val\.csv.*must be 0 \(music\)"):
        load_douban(tmp_path, split="val")
    (tmp_path / "douban_music_val.csv").write_text("0,1,2\n0,5,7\n")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['3'\]"):
        load_douban(tmp_path, split="val")


# -- Ali-CCP -------------------------------------------------------------------------------


@needs(ALICCP)
def test_aliccp_sample_with_three_domains():
    files = [ALICCP / f"scenariowiserec_ali_ccp_{s}_sample.csv" for s in ("train", "val", "test")]
    train = load_aliccp(files[0])
    assert train.data.shape == (100, 31)
    assert train.domain.value_counts().to_dict() == {0: 69, 1: 19, 2: 12}
    assert int(train.target.sum()) == 7 and train.target.name == "click"
    assert "purchase" not in train.frame.columns and "301" not in train.data.columns
    assert sum(isinstance(t, pd.CategoricalDtype) for t in train.data.dtypes) == 22
    assert [c for c in train.data.columns if c.startswith("D")] == [
        c for c in train.data.columns if train.data[c].dtype == np.float64
    ]
    every = load_aliccp(files)
    assert every.domain.value_counts().to_dict() == {0: 146, 1: 32, 2: 22}
    assert int(every.target.sum()) == 16
    assert int(load_aliccp(files, target="purchase").target.sum()) == 3
    raw = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    np.testing.assert_array_equal(every.domain, raw["301"] - 1)


@needs(ALICCP)
def test_aliccp_hamur_sample_is_one_domain():
    ali = load_aliccp(ALICCP / "hamur_ali_ccp_train_sample.csv")
    assert ali.domain.value_counts().to_dict() == {0: 100}


@needs(ALICCP)
def test_aliccp_bad_files(tmp_path):
    raw = pd.read_csv(ALICCP / "scenariowiserec_ali_ccp_val_sample.csv")
    no_domain = tmp_path / "no_domain.csv"
    raw.drop(columns="301").to_csv(no_domain, index=False)
    with pytest.raises(ValueError, match=r"no_domain\.csv.*missing column\(s\) \['301'\]"):
        load_aliccp(no_domain)
    semicolons = tmp_path / "semicolons.csv"
    raw.to_csv(semicolons, index=False, sep=";")
    with pytest.raises(ValueError, match=r"semicolons\.csv.*single field.*separator ','"):
        load_aliccp(semicolons)
    bad_domain = tmp_path / "bad_domain.csv"
    raw.assign(**{"301": 4}).to_csv(bad_domain, index=False)
    with pytest.raises(ValueError, match=r"bad_domain\.csv.*'301'.*1, 2 or 3; found 4"):
        load_aliccp(bad_domain)
    with pytest.raises(FileNotFoundError, match=r"missing\.csv' not found; expected a CSV"):
        load_aliccp(tmp_path / "missing.csv")


# -- make_multi_domain_classification ------------------------------------------------------


def test_generator_shapes_and_dtypes():
    X, y = make_multi_domain_classification(2_000, 4, n_users=500, n_items=300, n_numeric=3)
    assert X.shape == (2_000, 6) and y.shape == (2_000,)
    assert X.columns.tolist() == ["user_id", "item_id", "num_0", "num_1", "num_2", "domain"]
    assert isinstance(X["user_id"].dtype, pd.CategoricalDtype)
    assert X["domain"].dtype == np.int64 and set(X["domain"]) == {0, 1, 2, 3}
    assert set(y) == {0, 1} and y.name == "label"
    assert X["user_id"].nunique() <= 500 and X["item_id"].nunique() <= 300
    # popularity=1: a long tail, so the most frequent user is far above the mean
    assert X["user_id"].value_counts().iloc[0] > 10 * 2_000 / 500


def test_generator_is_deterministic_with_random_state():
    first = make_multi_domain_classification(1_000, 3, random_state=7)
    second = make_multi_domain_classification(1_000, 3, random_state=7)
    other = make_multi_domain_classification(1_000, 3, random_state=8)
    pd.testing.assert_frame_equal(first[0], second[0])
    pd.testing.assert_series_equal(first[1], second[1])
    assert not first[0]["num_0"].equals(other[0]["num_0"])


def test_generator_domain_sizes_and_shift():
    X, _ = make_multi_domain_classification(
        20_000, 3, domain_weights=[0.9, 0.09, 0.01], random_state=0
    )
    shares = X["domain"].value_counts(normalize=True).sort_index().to_numpy()
    np.testing.assert_allclose(shares, [0.9, 0.09, 0.01], atol=0.01)

    def rate_spread(shift):
        X, y = make_multi_domain_classification(20_000, 3, domain_shift=shift, random_state=0)
        rates = y.groupby(X["domain"]).mean()
        return X, rates.max() - rates.min()

    X_none, spread_none = rate_spread(0.0)
    X_strong, spread_strong = rate_spread(3.0)
    pd.testing.assert_frame_equal(X_none, X_strong)  # the shift changes labels only
    assert spread_none < 0.02 < 0.1 < spread_strong


def test_generator_bad_parameters_reported_together():
    with pytest.raises(ValueError) as info:
        make_multi_domain_classification(0, 2, domain_weights=[1, 2, 3], domain_shift=-1)
    message = str(info.value)
    for name in ("'n_samples'", "'domain_weights'", "'domain_shift'"):
        assert name in message
