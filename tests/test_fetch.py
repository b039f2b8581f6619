"""Tests of fetch_movielens against a local HTTP server (no internet needed)."""

import hashlib
import http.server
import io
import re
import threading
import zipfile

import pytest

from sklearn_recsys.datasets import _fetch, fetch_movielens, load_movielens
from sklearn_recsys.datasets._fetch import RemoteArchive

# A few synthetic rows in ml-100k's layout (u.data: user, item, rating, time).
_U_DATA = "1\t10\t4\t300\n2\t10\t5\t100\n1\t20\t3\t200\n"
_U_ITEM = (
    "10|Alpha (1995)|01-Jan-1995||url|" + "|".join(["0", "1"] + ["0"] * 17) + "\n"
    "20|Beta (1990)|01-Jan-1990||url|" + "|".join(["0"] * 18 + ["1"]) + "\n"
)
_U_GENRE = "".join(f"G{i}|{i}\n" for i in range(19)) + "\n"
_U_USER = "1|24|M|technician|85711\n2|53|F|other|94043\n"


def _zip(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in members.items():
            z.writestr(name, text)
    return buffer.getvalue()


def _ml100k_zip():
    return _zip(
        {
            "ml-100k/u.data": _U_DATA,
            "ml-100k/u.item": _U_ITEM,
            "ml-100k/u.genre": _U_GENRE,
            "ml-100k/u.user": _U_USER,
            "ml-100k/README": "synthetic test archive\n",
        }
    )


class _Server:
    """Serves ``files`` (path -> bytes) on a free localhost port; counts requests."""

    def __init__(self):
        self.files, self.requests = {}, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep the test output clean
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/movielens"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server(monkeypatch):
    # a proxy from the environment must not intercept the local server
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    s = _Server()
    yield s
    s.close()


def _publish(server, monkeypatch, body, *, sha256=True, md5=True, size=True, as_=None):
    """Serve ``body`` as ml-100k.zip and put its checksums in the table."""
    server.files["/movielens/ml-100k.zip"] = body
    reference = as_ if as_ is not None else body
    remote = RemoteArchive(
        "ml-100k.zip",
        len(reference) if size else None,
        hashlib.sha256(reference).hexdigest() if sha256 else None,
        hashlib.md5(reference).hexdigest() if md5 else None,
    )
    monkeypatch.setitem(_fetch._ARCHIVES, "100k", remote)
    return remote


def test_fetch_downloads_verifies_and_loads(tmp_path, server, monkeypatch):
    _publish(server, monkeypatch, _ml100k_zip())
    data = fetch_movielens(data_home=tmp_path, base_url=server.url, progress=False)
    assert server.requests == ["/movielens/ml-100k.zip"]
    log = data.interactions
    assert log["user_id"].tolist() == [1, 1, 2]
    assert log["item_id"].tolist() == [20, 10, 10]  # user 1 by time: 200, 300
    assert log["rating"].tolist() == [3.0, 4.0, 5.0]
    assert data.items.loc[10, "genres"] == ["G1"] and data.items.loc[20, "year"] == 1990
    assert data.users.loc[2, "zip"] == "94043"
    assert data.name == "ml-100k" and "no redistribution" in data.DESCR
    # unpacked in place (the downloaded zip removed), no temporary file left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ml-100k"]
    assert (tmp_path / "ml-100k" / "README").is_file()
    # load_movielens reads the same cache folder
    assert load_movielens("100k", data_home=tmp_path).interactions.equals(log)


def test_fetch_second_call_uses_the_cache(tmp_path, server, monkeypatch):
    _publish(server, monkeypatch, _ml100k_zip())
    first = fetch_movielens(data_home=tmp_path, base_url=server.url, progress=False)
    second = fetch_movielens(data_home=tmp_path, base_url=server.url, progress=False)
    assert len(server.requests) == 1
    assert second.interactions.equals(first.interactions)
    # and with no server at all: the cache suffices
    third = fetch_movielens(data_home=tmp_path, download_if_missing=False)
    assert third.interactions.equals(first.interactions)


def test_fetch_default_data_home_from_env(tmp_path, server, monkeypatch):
    _publish(server, monkeypatch, _ml100k_zip())
    home = tmp_path / "cache" / "nested"
    monkeypatch.setenv("SKLEARN_RECSYS_DATA", str(home))
    fetch_movielens(base_url=server.url + "/", progress=False)  # trailing slash ok
    assert server.requests == ["/movielens/ml-100k.zip"]
    assert (home / "ml-100k" / "u.data").read_text() == _U_DATA


@pytest.mark.parametrize("which", ["sha256", "md5", "size"])
def test_fetch_refuses_a_corrupt_archive_and_deletes_it(tmp_path, server, monkeypatch, which):
    good = _ml100k_zip()
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF  # one flipped byte in the compressed data
    bad = bytes(bad) if which != "size" else good + b"\0"
    # the table holds the good archive's checksums; only one check enabled
    _publish(server, monkeypatch, bad, as_=good, sha256=which == "sha256",
             md5=which == "md5", size=which == "size")
    label = {"sha256": "SHA-256", "md5": "MD5", "size": "size"}[which]
    with pytest.raises(OSError, match=f"The {label} of ml-100k.zip from http://127.0.0.1.*"
                       "corrupt.*It was deleted"):
        fetch_movielens(data_home=tmp_path, base_url=server.url, progress=False)
    assert list(tmp_path.iterdir()) == []  # neither the archive nor a .part file
    # the next call downloads again (nothing half-done was cached)
    with pytest.raises(OSError, match=label):
        fetch_movielens(data_home=tmp_path, base_url=server.url, progress=False)
    assert len(server.requests) == 2


def test_fetch_missing_without_download(tmp_path, server, monkeypatch):
    _publish(server, monkeypatch, _ml100k_zip())
    expected = re.escape(str(tmp_path / "ml-100k"))
    with pytest.raises(FileNotFoundError, match=f"not in the cache: expected .{expected}.*"
                       "download_if_missing=True"):
        fetch_movielens(data_home=tmp_path, download_if_missing=False,
                        base_url=server.url)
    assert server.requests == [] and list(tmp_path.iterdir()) == []


def test_fetch_http_error_leaves_nothing(tmp_path, server, monkeypatch):
    _publish(server, monkeypatch, _ml100k_zip())
    del server.files["/movielens/ml-100k.zip"]
    from urllib.error import HTTPError

    with pytest.raises(HTTPError, match="404"):
        fetch_movielens(data_home=tmp_path, base_url=server.url, progress=False)
    assert server.requests == ["/movielens/ml-100k.zip"]  # no retry on a 404
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("member", ["../evil.txt", "/tmp/evil.txt", "ml-100k/../../evil.txt"])
def test_fetch_refuses_unsafe_members(tmp_path, server, monkeypatch, member):
    body = _zip({"ml-100k/u.data": _U_DATA, member: "x"})
    _publish(server, monkeypatch, body)
    home = tmp_path / "home"
    with pytest.raises(OSError, match=f"member {re.escape(repr(member))} would be written "
                       "outside"):
        fetch_movielens(data_home=home, base_url=server.url, progress=False)
    assert list(home.iterdir()) == []  # refused archive and temporary folder removed
    assert not (tmp_path / "evil.txt").exists()


def test_fetch_refuses_a_wrong_layout(tmp_path, server, monkeypatch):
    _publish(server, monkeypatch, _zip({"ml-100k/u.data": _U_DATA}))
    with pytest.raises(OSError, match=r"does not hold the MovieLens '100k' layout.*u\.item"):
        fetch_movielens(data_home=tmp_path, base_url=server.url, progress=False)
    assert list(tmp_path.iterdir()) == []
    _publish(server, monkeypatch, b"not a zip at all")
    with pytest.raises(OSError, match="is not a zip archive"):
        fetch_movielens(data_home=tmp_path, base_url=server.url, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_fetch_unverified_archive_warns(tmp_path, server, monkeypatch):
    _publish(server, monkeypatch, _ml100k_zip(), sha256=False, md5=False)
    with pytest.warns(UserWarning, match="No published checksum.*unverified"):
        data = fetch_movielens(data_home=tmp_path, base_url=server.url, progress=False)
    assert len(data.interactions) == 3


def test_fetch_checks_an_archive_already_in_the_cache(tmp_path, server, monkeypatch):
    body = _ml100k_zip()
    _publish(server, monkeypatch, body)
    (tmp_path / "ml-100k.zip").write_bytes(body)  # placed there by the user
    data = fetch_movielens(data_home=tmp_path, base_url=server.url, progress=False)
    assert server.requests == [] and len(data.interactions) == 3
    assert (tmp_path / "ml-100k.zip").is_file()  # the user's file is kept
    (tmp_path / "ml-100k.zip").write_bytes(body[:-10])
    (tmp_path / "ml-100k" / "u.data").unlink()  # incomplete cache: re-extract
    with pytest.raises(OSError, match="size of ml-100k.zip"):
        fetch_movielens(data_home=tmp_path, base_url=server.url, progress=False)
    assert not (tmp_path / "ml-100k.zip").exists()


def test_fetch_progress_without_tqdm(tmp_path, server, monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError("no tqdm here")
        return real_import(name, *args, **kwargs)

    _publish(server, monkeypatch, _ml100k_zip())
    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    fetch_movielens(data_home=tmp_path, base_url=server.url, progress=True)
    err = capsys.readouterr().err
    assert "ml-100k.zip: 100%" in err and err.endswith("\n")


def test_fetch_progress_with_tqdm(tmp_path, server, monkeypatch, capsys):
    pytest.importorskip("tqdm", reason="the progress extra is optional")
    body = _ml100k_zip()
    _publish(server, monkeypatch, body)
    fetch_movielens(data_home=tmp_path, base_url=server.url, progress=True)
    err = capsys.readouterr().err
    assert "ml-100k.zip" in err and "100%" in err and "%|" in err  # tqdm's bar


def test_fetch_checksum_table_is_complete():
    # every variant has a checksum from a cited source (see _fetch.py)
    for variant, remote in _fetch._ARCHIVES.items():
        assert remote.filename == f"ml-{variant}.zip"
        assert remote.sha256 is not None or remote.md5 is not None, variant
        if remote.sha256 is not None:
            assert re.fullmatch("[0-9a-f]{64}", remote.sha256)
        if remote.md5 is not None:
            assert re.fullmatch("[0-9a-f]{32}", remote.md5)
    assert set(_fetch._ARCHIVES) == {"100k", "1m", "10m", "20m", "25m", "32m", "latest-small"}


def test_fetch_invalid_variant():
    with pytest.raises(ValueError, match="'variant' parameter of fetch_movielens"):
        fetch_movielens("1m-sas-trunc")


def test_fetch_10m_unpacks_to_its_own_folder(tmp_path, server, monkeypatch):
    # ml-10m.zip unpacks to ml-10M100K/ with ::-separated files
    body = _zip(
        {
            "ml-10M100K/ratings.dat": "1::122::5::838985046\n1::185::4.5::838983525\n",
            "ml-10M100K/movies.dat": "122::Boomerang (1992)::Comedy\n185::Net, The (1995)::Action\n",
            "ml-10M100K/tags.dat": "15::185::Sandra Bullock::1138537770\n",
        }
    )
    server.files["/movielens/ml-10m.zip"] = body
    monkeypatch.setitem(
        _fetch._ARCHIVES, "10m",
        RemoteArchive("ml-10m.zip", None, None, hashlib.md5(body).hexdigest()),
    )
    data = fetch_movielens("10m", data_home=tmp_path, base_url=server.url, progress=False)
    assert server.requests == ["/movielens/ml-10m.zip"]
    assert data.name == "ml-10M100K" and data.interactions["item_id"].tolist() == [185, 122]
    assert data.items.loc[185, "tags"] == ["sandra bullock"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ml-10M100K"]
