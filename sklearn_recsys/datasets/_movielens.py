"""Loaders for local copies of the MovieLens datasets (nothing is downloaded)."""

import csv
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import StrOptions, validate_params

from ._log import DatasetBunch, _user_time_order

ENV_VAR = "SKLEARN_RECSYS_DATA"

# The folder each GroupLens archive unpacks to (ml-10m.zip unpacks to ml-10M100K/).
_FOLDERS = {
    "100k": "ml-100k",
    "1m": "ml-1m",
    "10m": "ml-10M100K",
    "20m": "ml-20m",
    "25m": "ml-25m",
    "32m": "ml-32m",
    "latest-small": "ml-latest-small",
    "1m-sas-trunc": "ml-1m-sas-trunc",
}
_CSV_FILES = ("ratings.csv", "movies.csv", "tags.csv")
_FILES = {
    "100k": ("u.data", "u.item", "u.genre", "u.user"),
    "1m": ("ratings.dat", "movies.dat", "users.dat"),
    "10m": ("ratings.dat", "movies.dat", "tags.dat"),
    "20m": _CSV_FILES,
    "25m": _CSV_FILES,
    "32m": _CSV_FILES,
    "latest-small": _CSV_FILES,
    "1m-sas-trunc": ("sequences.txt", "items.csv", "users.csv"),
}

# The last year in parentheses of a title: "(1995)", "(2006-2007)", "(1995) (V)".
_YEAR = r".*\((\d{4})(?:\s*[-\u2013]\s*(?:\d{4})?)?\)"

# ML-1M's occupation codes (its README).
_OCCUPATIONS_1M = (
    "other", "academic/educator", "artist", "clerical/admin",
    "college/grad student", "customer service", "doctor/health care",
    "executive/managerial", "farmer", "homemaker", "K-12 student", "lawyer",
    "programmer", "retired", "sales/marketing", "scientist", "self-employed",
    "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)

_LICENCE = (
    "Licence: GroupLens research licence (research use, acknowledge the use, "
    "no redistribution). Cite: F. M. Harper and J. A. Konstan, The MovieLens "
    "Datasets: History and Context, ACM TiiS 5(4), 2015."
)

_CSV_COLUMNS = (
    "interactions: user_id, item_id, timestamp (Unix seconds), rating.\n"
    "items: title, genres ('(no genres listed)' gives an empty list), year "
    "(from the title), tags (the unique lower-cased tags users gave the "
    "movie, sorted). users: None (no demographics)."
)

_DESCR = {
    "1m": (
        "MovieLens 1M: 1,000,209 ratings (1-5) by 6,040 users of 3,706 movies "
        "(3,883 in the catalogue), 2000-2003, each user with at least 20 "
        "ratings.\n\n"
        "interactions: user_id, item_id, timestamp (Unix seconds), rating.\n"
        "items: title, genres, year (from the title).\n"
        "users: gender, age (age bucket: 1, 18, 25, 35, 45, 50, 56), "
        "occupation (name of the code), zip."
    ),
    "10m": (
        "MovieLens 10M: 10,000,054 ratings (0.5-5 stars) and 95,580 tags "
        "applied to 10,681 movies by 71,567 users, 1995-2009.\n\n" + _CSV_COLUMNS
    ),
    "20m": (
        "MovieLens 20M: 20,000,263 ratings (0.5-5 stars) and 465,564 tags "
        "by 138,493 users of 27,278 movies, 1995-2015.\n\n" + _CSV_COLUMNS
    ),
    "25m": (
        "MovieLens 25M: 25,000,095 ratings (0.5-5 stars) and 1,093,360 tags "
        "by 162,541 users of 62,423 movies, 1995-2019.\n\n" + _CSV_COLUMNS
    ),
    "32m": (
        "MovieLens 32M: 32,000,204 ratings (0.5-5 stars) and 2,000,072 tags "
        "by 200,948 users of 87,585 movies, 1995-2023.\n\n" + _CSV_COLUMNS
    ),
    "100k": (
        "MovieLens 100K: 100,000 ratings (1-5) by 943 users of 1,682 movies, "
        "1997-1998, each user with at least 20 ratings.\n\n"
        "interactions: user_id, item_id, timestamp (Unix seconds), rating.\n"
        "items: title, genres (from the 19 genre flags of u.item, 'unknown' "
        "included), year (from the title).\n"
        "users: age, gender, occupation, zip."
    ),
    "latest-small": (
        "MovieLens latest-small: 100,836 ratings (0.5-5 stars) and 3,683 tags "
        "by 610 users of 9,742 movies, 1996-2018.\n\n" + _CSV_COLUMNS
    ),
    "1m-sas-trunc": (
        "MovieLens 1M in the SASRec/BERT4Rec preprocessing (items with fewer "
        "than 5 ratings removed, ids remapped to 1..3416, chronological "
        "sequences), with each user's last 2 interactions removed: 987,531 "
        "events by 6,040 users on 3,416 items.\n\n"
        "interactions: user_id, item_id, timestamp = 0-based position in the "
        "user's sequence (the files carry no times). No ratings.\n"
        "items: movielens_id (the original ML-1M id), title, genres, year.\n"
        "users: gender, age (ML-1M age bucket: 1, 18, 25, 35, 45, 50, 56), "
        "occupation (name of the ML-1M code), zip."
    ),
}


def _resolve(variant, data_home):
    folder = _FOLDERS[variant]
    if data_home is None:
        data_home = os.environ.get(ENV_VAR) or None
    if data_home is None:
        raise FileNotFoundError(
            f"No data directory for MovieLens {variant!r}: pass data_home= or set "
            f"the environment variable {ENV_VAR} to the directory holding "
            f"'{folder}/'. Nothing is downloaded."
        )
    home = Path(data_home).expanduser()
    # data_home may be the parent of the ml-* folders or the variant folder itself.
    if (home / folder).is_dir():
        base = home / folder
    elif home.is_dir() and (home.name == folder or (home / _FILES[variant][0]).is_file()):
        base = home
    else:
        raise FileNotFoundError(
            f"MovieLens {variant!r} not found: expected the directory "
            f"{str(home / folder)!r} (data_home={str(data_home)!r}; set it with "
            f"data_home= or the environment variable {ENV_VAR})."
        )
    for name in _FILES[variant]:
        if not (base / name).is_file():
            raise FileNotFoundError(
                f"MovieLens {variant!r}: expected the file {str(base / name)!r}, "
                f"which is missing (data_home={str(data_home)!r}, environment "
                f"variable {ENV_VAR})."
            )
    return base


def _year(titles):
    return titles.str.extract(_YEAR, expand=False).astype("Int64")


def _catalogue(ids, titles, genres, **extra):
    """Items frame indexed by ``item_id``; inputs are aligned by position."""
    titles = pd.Series(np.asarray(titles, dtype=object)).fillna("").astype(str).str.strip()
    columns = {
        **{k: np.asarray(v) for k, v in extra.items()},
        "title": titles.array,
        "genres": genres,
        "year": _year(titles).array,
    }
    return pd.DataFrame(columns, index=pd.Index(np.asarray(ids, dtype=np.int64), name="item_id"))


def _sorted_log(frame):
    order = _user_time_order(frame["user_id"].to_numpy(), frame["timestamp"].to_numpy())
    return frame.iloc[order].reset_index(drop=True)


def _split_genres(genres):
    return [[] if g in ("(no genres listed)", "") else g.split("|") for g in genres.tolist()]


def _load_100k(base):
    log = pd.read_csv(
        base / "u.data", sep="\t", header=None,
        names=["user_id", "item_id", "rating", "timestamp"], dtype=np.int64,
    )
    log = _sorted_log(log[["user_id", "item_id", "timestamp", "rating"]])
    log["rating"] = log["rating"].astype(np.float64)
    genre_names = pd.read_csv(
        base / "u.genre", sep="|", header=None, names=["name", "code"], encoding="latin-1"
    ).dropna().sort_values("code")["name"].tolist()
    raw = pd.read_csv(base / "u.item", sep="|", header=None, encoding="latin-1")
    flags = raw.iloc[:, -len(genre_names):].to_numpy(dtype=bool)
    names = np.array(genre_names, dtype=object)
    items = _catalogue(raw[0], raw[1], [names[row].tolist() for row in flags])
    users = pd.read_csv(
        base / "u.user", sep="|", header=None,
        names=["user_id", "age", "gender", "occupation", "zip"],
        dtype={"zip": str}, encoding="latin-1",
    ).set_index("user_id")
    return log, items, users


_LOG_DTYPES = {"user_id": np.int64, "item_id": np.int64, "timestamp": np.int64, "rating": np.float64}


def _read_dat(path, names, dtype=None):
    """Read a ``::``-separated GroupLens ``.dat`` file (ML-1M, ML-10M).

    pandas only parses multi-character separators with its slow Python
    engine, so the separator is swapped for a tab first. Quotes are plain
    characters in these files (titles such as ``"Lord of the Rings" (1978)``).
    ML-1M is latin-1; ML-10M is read as UTF-8 when it decodes as such.
    """
    raw = Path(path).read_bytes().replace(b"::", b"\t")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return pd.read_csv(
        io.StringIO(text), sep="\t", header=None, names=names, dtype=dtype,
        quoting=csv.QUOTE_NONE, keep_default_na=False,
    )


def _tags_per_item(tags, item_index):
    """Sorted unique lower-cased tags per item, aligned with ``item_index``."""
    tags = tags.dropna(subset=["tag"])
    tags = tags.assign(tag=tags["tag"].astype(str).str.strip().str.lower())
    tags = tags[tags["tag"] != ""]
    per_item = tags.groupby("item_id")["tag"].agg(lambda t: sorted(set(t)))
    per_item = per_item.reindex(item_index).tolist()
    return [t if isinstance(t, list) else [] for t in per_item]


def _users_1m(users):
    """ML-1M demographics: occupation codes to names (its README), fixed columns."""
    occ = users["occupation"].to_numpy()
    names = np.array(_OCCUPATIONS_1M, dtype=object)
    users["occupation"] = np.where(
        (occ >= 0) & (occ < len(names)), names[np.clip(occ, 0, len(names) - 1)], "other"
    )
    return users[["gender", "age", "occupation", "zip"]]


def _load_csv(base):
    """The CSV layout of ML-20M, ML-25M, ML-32M and ml-latest-small."""
    log = pd.read_csv(
        base / "ratings.csv",
        dtype={"userId": np.int64, "movieId": np.int64, "rating": np.float64,
               "timestamp": np.int64},
    ).rename(columns={"userId": "user_id", "movieId": "item_id"})
    log = _sorted_log(log[["user_id", "item_id", "timestamp", "rating"]].astype(_LOG_DTYPES))
    movies = pd.read_csv(base / "movies.csv")
    items = _catalogue(movies["movieId"], movies["title"], _split_genres(movies["genres"]))
    tags = pd.read_csv(base / "tags.csv").rename(columns={"movieId": "item_id"})
    items["tags"] = _tags_per_item(tags, items.index)
    return log, items, None


def _dat_log(base):
    log = _read_dat(
        base / "ratings.dat", ["user_id", "item_id", "rating", "timestamp"],
        dtype={"user_id": np.int64, "item_id": np.int64, "rating": np.float64,
               "timestamp": np.int64},
    )
    return _sorted_log(log[["user_id", "item_id", "timestamp", "rating"]])


def _dat_movies(base):
    movies = _read_dat(base / "movies.dat", ["item_id", "title", "genres"],
                       dtype={"item_id": np.int64, "title": str, "genres": str})
    return _catalogue(movies["item_id"], movies["title"], _split_genres(movies["genres"]))


def _load_1m(base):
    users = _read_dat(
        base / "users.dat", ["user_id", "gender", "age", "occupation", "zip"],
        dtype={"user_id": np.int64, "gender": str, "age": np.int64,
               "occupation": np.int64, "zip": str},
    ).set_index("user_id")
    return _dat_log(base), _dat_movies(base), _users_1m(users)


def _load_10m(base):
    items = _dat_movies(base)
    tags = _read_dat(base / "tags.dat", ["user_id", "item_id", "tag", "timestamp"],
                     dtype={"tag": str})
    items["tags"] = _tags_per_item(tags, items.index)
    return _dat_log(base), items, None


def _load_1m_sas_trunc(base):
    with open(base / "sequences.txt", encoding="ascii") as f:
        lines = f.read().splitlines()
    tokens = [line.split() for line in lines]
    lengths = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=len(tokens))
    flat = [x for t in tokens for x in t]
    try:
        item_ids = np.array(flat, dtype=np.int64)
    except ValueError as exc:
        raise ValueError(
            f"{base / 'sequences.txt'} must hold space-separated integer item ids, "
            f"one user per line: {exc}"
        ) from None
    user_ids = np.repeat(np.arange(1, len(lines) + 1, dtype=np.int64), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    log = pd.DataFrame(
        {
            "user_id": user_ids,
            "item_id": item_ids,
            "timestamp": np.arange(len(item_ids), dtype=np.int64) - starts,
        }
    )
    raw = pd.read_csv(base / "items.csv")
    items = _catalogue(
        raw["item_id"], raw["title"], _split_genres(raw["genres"].fillna("")),
        movielens_id=raw["movielens_id"].astype(np.int64),
    )
    users = pd.read_csv(base / "users.csv", dtype={"zip": str}).set_index("user_id")
    return log, items, _users_1m(users)


_LOADERS = {
    "100k": _load_100k,
    "1m": _load_1m,
    "10m": _load_10m,
    "20m": _load_csv,
    "25m": _load_csv,
    "32m": _load_csv,
    "latest-small": _load_csv,
    "1m-sas-trunc": _load_1m_sas_trunc,
}


@validate_params(
    {
        "variant": [StrOptions(set(_FOLDERS))],
        "data_home": [str, os.PathLike, None],
    },
    prefer_skip_nested_validation=True,
)
def load_movielens(variant="100k", *, data_home=None):
    """Load a local copy of a MovieLens dataset.

    Nothing is downloaded: the MovieLens licence forbids redistribution, so
    the files must already be on disk, in their original layout (the folder
    GroupLens' archive unpacks to). :func:`fetch_movielens` downloads them
    from GroupLens first.

    ============== ============================ ========== ======= ======
    variant        folder                       events     users   items
    ============== ============================ ========== ======= ======
    "100k"         ``ml-100k/``                    100,000     943  1,682
    "1m"           ``ml-1m/``                    1,000,209   6,040  3,883
    "10m"          ``ml-10M100K/``              10,000,054  69,878 10,681
    "20m"          ``ml-20m/``                  20,000,263 138,493 27,278
    "25m"          ``ml-25m/``                  25,000,095 162,541 62,423
    "32m"          ``ml-32m/``                  32,000,204 200,948 87,585
    "latest-small" ``ml-latest-small/``            100,836     610  9,742
    "1m-sas-trunc" ``ml-1m-sas-trunc/``            987,531   6,040  3,416
    ============== ============================ ========== ======= ======

    Items are those of the catalogue file (some are never rated). The files
    read: ``u.data``, ``u.item``, ``u.genre``, ``u.user`` ("100k");
    ``ratings.dat``, ``movies.dat`` and ``users.dat`` ("1m") or ``tags.dat``
    ("10m"), ``::``-separated; ``ratings.csv``, ``movies.csv``, ``tags.csv``
    ("20m", "25m", "32m", "latest-small"). "1m-sas-trunc" is MovieLens 1M
    as preprocessed for SASRec/BERT4Rec, minus each user's last two events;
    it has no times and no ratings.

    Parameters
    ----------
    variant : {"100k", "1m", "10m", "20m", "25m", "32m", "latest-small", \
            "1m-sas-trunc"}, default="100k"
        Which dataset.
    data_home : str, path-like or None, default=None
        Directory holding the ``ml-*`` folders, or the variant's folder
        itself. None reads the environment variable ``SKLEARN_RECSYS_DATA``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes
        (``data.items`` is the catalogue, not ``dict.items``).

        interactions : pandas.DataFrame
            ``user_id`` (int64), ``item_id`` (int64), ``timestamp`` (int64 Unix
            seconds; for "1m-sas-trunc" the 0-based position in the user's
            sequence) and ``rating`` (float64, absent for "1m-sas-trunc").
            Sorted by user then time with a stable sort: equal times keep
            their order in the file.
        items : pandas.DataFrame
            Indexed by ``item_id``: ``title`` (str), ``genres`` (list of str),
            ``year`` (Int64, from the title, missing when absent);
            "10m", "20m", "25m", "32m" and "latest-small" add ``tags``
            (sorted unique lower-cased tags, an empty list when none) and
            "1m-sas-trunc" ``movielens_id``.
        users : pandas.DataFrame or None
            Indexed by ``user_id``: ``age``, ``gender``, ``occupation``,
            ``zip`` ("100k", "1m", "1m-sas-trunc"); None for the others
            (no demographics).
        DESCR : str
            Description of the dataset.
        name : str
            The folder name, e.g. ``"ml-100k"``.

    Raises
    ------
    FileNotFoundError
        When no directory is given, or the folder or one of its files is
        missing; the message names the expected path.

    Examples
    --------
    >>> from sklearn_recsys.datasets import load_movielens
    >>> data = load_movielens("100k", data_home="~/data")  # doctest: +SKIP
    >>> data.interactions.shape  # doctest: +SKIP
    (100000, 4)
    """
    base = _resolve(variant, data_home)
    log, items, users = _LOADERS[variant](base)
    return DatasetBunch(
        interactions=log,
        items=items,
        users=users,
        DESCR=_DESCR[variant] + "\n\n" + _LICENCE,
        name=_FOLDERS[variant],
    )
