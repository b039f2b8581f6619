"""Download MovieLens archives from GroupLens into a local cache."""

import hashlib
import os
import shutil
import sys
import tempfile
import time
import warnings
import zipfile
from collections import namedtuple
from pathlib import Path, PurePosixPath

from sklearn.utils._param_validation import StrOptions, validate_params

from ._movielens import _FILES, _FOLDERS, ENV_VAR, load_movielens

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/"
DEFAULT_DATA_HOME = Path("~") / "sklearn_recsys_data"

_CHUNK = 1 << 20

# One archive on GroupLens' server. ``size`` (bytes), ``sha256`` and ``md5``
# are None where no published value was found: then that check is skipped.
RemoteArchive = namedtuple("RemoteArchive", ["filename", "size", "sha256", "md5"])

# Sources of the values below; none was computed by this project (it was
# written without access to GroupLens' server), so each is cited:
# [tfds] size and SHA-256: tensorflow/datasets,
#        tensorflow_datasets/url_checksums/movielens.txt
#        (commit 1c076ac3c19c8ea83e1d1a75e0623c9a699e0d7c).
# [pwc]  MD5: eli-osherovich/papers_with_code, datasets/movielens/dl_config.py,
#        the values GroupLens publishes in <archive>.zip.md5 next to each zip.
# [md5-32m] MD5 of ml-32m.zip as published by GroupLens in ml-32m.zip.md5,
#        quoted identically by several public loaders (e.g. a pooch registry
#        ``known_hash="md5:d472be..."`` and a script commented "Official
#        checksum from https://files.grouplens.org/datasets/movielens/
#        ml-32m.zip.md5"); the search index gave no repository names for them.
# No SHA-256 was found in a citable source for ml-10m.zip or ml-32m.zip, so
# those two are checked against GroupLens' MD5 only.
_ARCHIVES = {
    "100k": RemoteArchive(
        "ml-100k.zip", 4_924_029,  # [tfds]
        "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",  # [tfds]
        "0e33842e24a9c977be4e0107933c0723",  # [pwc]
    ),
    "1m": RemoteArchive(
        "ml-1m.zip", 5_917_549,  # [tfds]
        "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",  # [tfds]
        "c4d9eecfca2ab87c1945afe126590906",  # [pwc]
    ),
    "10m": RemoteArchive(
        "ml-10m.zip", None, None,
        "ce571fd55effeba0271552578f2648bd",  # [pwc]
    ),
    "20m": RemoteArchive(
        "ml-20m.zip", 198_702_078,  # [tfds]
        "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",  # [tfds]
        "cd245b17a1ae2cc31bb14903e1204af3",  # [pwc]
    ),
    "25m": RemoteArchive(
        "ml-25m.zip", 261_978_986,  # [tfds]
        "8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",  # [tfds]
        "6b51fb2759a8657d3bfcbfc42b592ada",  # [pwc]
    ),
    "32m": RemoteArchive(
        "ml-32m.zip", None, None,
        "d472be332d4daa821edc399621853b57",  # [md5-32m]
    ),
    "latest-small": RemoteArchive(
        "ml-latest-small.zip", 978_202,  # [tfds]
        "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",  # [tfds]
        None,
    ),
}


def get_data_home(data_home=None):
    """The cache folder of :func:`fetch_movielens`, created if missing.

    ``data_home`` if given, else the environment variable
    ``SKLEARN_RECSYS_DATA``, else ``~/sklearn_recsys_data``; ``~`` is
    expanded. Private: like :func:`sklearn.datasets.get_data_home`.
    """
    if data_home is None:
        data_home = os.environ.get(ENV_VAR) or DEFAULT_DATA_HOME
    home = Path(data_home).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def _is_complete(folder, variant):
    return folder.is_dir() and all((folder / name).is_file() for name in _FILES[variant])


class _Progress:
    """tqdm when installed and wanted, else a percentage on stderr."""

    def __init__(self, total, desc, enabled):
        self.total, self.desc, self.enabled = total, desc, enabled
        self.done, self._last = 0, -1
        self._bar = None
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                pass
            else:
                self._bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True,
                                 unit_divisor=1024)

    def update(self, n):
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
        elif self.total:
            percent = 100 * self.done // self.total
            if percent != self._last:
                self._last = percent
                sys.stderr.write(f"\r{self.desc}: {percent:3d}%")
                sys.stderr.flush()

    def close(self):
        if self._bar is not None:
            self._bar.close()
        elif self.enabled:
            if not self.total:
                sys.stderr.write(f"\r{self.desc}: {self.done / 2**20:.1f} MiB")
            sys.stderr.write("\n")
            sys.stderr.flush()


def _download(url, path, desc, progress, n_retries=3, delay=1.0):
    """Stream ``url`` into ``path``; return its SHA-256 and MD5 hex digests."""
    # imported here: urllib.request pulls in http.client and ssl, which
    # ``import sklearn_recsys`` should not pay for
    from urllib.error import HTTPError, URLError
    from urllib.request import urlopen

    while True:
        sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        try:
            with urlopen(url, timeout=60) as response, open(path, "wb") as out:
                length = response.headers.get("Content-Length")
                bar = _Progress(int(length) if length else None, desc, progress)
                try:
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
                        sha256.update(chunk)
                        md5.update(chunk)
                        bar.update(len(chunk))
                finally:
                    bar.close()
            return sha256.hexdigest(), md5.hexdigest()
        except HTTPError:
            raise  # 404 and friends: retrying will not help
        except (URLError, TimeoutError, ConnectionError):
            if n_retries == 0:
                raise
            warnings.warn(f"Retrying the download of {url}.", stacklevel=3)
            n_retries -= 1
            time.sleep(delay)


def _file_digests(path):
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            sha256.update(chunk)
            md5.update(chunk)
    return sha256.hexdigest(), md5.hexdigest()


def _verify(path, remote, digests, origin):
    """Raise OSError, deleting ``path``, when its size or a digest is wrong."""
    size = path.stat().st_size
    checks = [("size", remote.size, size), ("SHA-256", remote.sha256, digests[0]),
              ("MD5", remote.md5, digests[1])]
    for what, expected, got in checks:
        if expected is not None and expected != got:
            path.unlink()
            raise OSError(
                f"The {what} of {remote.filename} from {origin} is {got}, expected "
                f"{expected}: the file is corrupt or incomplete, or changed at "
                f"the source. It was deleted; call fetch_movielens again to "
                f"download it anew."
            )
    if remote.sha256 is None and remote.md5 is None:
        warnings.warn(
            f"No published checksum is known for {remote.filename}: the archive "
            f"is unverified (only its size, when known, and its zip structure "
            f"are checked).",
            UserWarning,
            stacklevel=3,
        )


def _safe_members(archive, zip_path):
    """The members of ``archive``; raise on absolute paths or ``..`` parts."""
    infos = archive.infolist()
    for info in infos:
        name = info.filename.replace("\\", "/")
        parts = PurePosixPath(name).parts
        if name.startswith("/") or (parts and ":" in parts[0]) or ".." in parts:
            raise OSError(
                f"Refusing to extract {zip_path}: its member {info.filename!r} "
                f"would be written outside the target folder (absolute path or "
                f"'..'). The archive is not a GroupLens MovieLens archive."
            )
    return infos


def _extract(zip_path, home, variant):
    """Unpack into a temporary folder under ``home``, then rename into place."""
    folder = _FOLDERS[variant]
    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile:
        raise OSError(
            f"{zip_path} is not a zip archive; delete it and call fetch_movielens "
            f"again."
        ) from None
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder}.extract_", dir=home))
    try:
        with archive:
            infos = _safe_members(archive, zip_path)
            archive.extractall(tmp, members=infos)
        if not _is_complete(tmp / folder, variant):
            found = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*"))[:20]
            raise OSError(
                f"{zip_path} does not hold the MovieLens {variant!r} layout: "
                f"expected {folder}/ with {list(_FILES[variant])}, found {found}."
            )
        target = home / folder
        if target.exists():  # an incomplete folder from an earlier attempt
            shutil.rmtree(target)
        os.replace(tmp / folder, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


@validate_params(
    {
        "variant": [StrOptions(set(_ARCHIVES))],
        "data_home": [str, os.PathLike, None],
        "download_if_missing": ["boolean"],
        "base_url": [str, None],
        "progress": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def fetch_movielens(
    variant="100k", *, data_home=None, download_if_missing=True, base_url=None,
    progress=True,
):
    """Load a MovieLens dataset, downloading it from GroupLens if needed.

    The archive is downloaded from GroupLens' own site
    (``https://files.grouplens.org/datasets/movielens/``) into a cache
    folder, checked, unpacked, and read with :func:`load_movielens`. Later
    calls read the unpacked folder and make no request.

    Licence: GroupLens allows research use, forbids redistribution and
    commercial use without permission, and asks that publications cite
    F. M. Harper and J. A. Konstan, *The MovieLens Datasets: History and
    Context*, ACM TiiS 5(4), 2015. This function downloads from the source,
    so nothing is redistributed; read the README in the unpacked folder.

    ============== ========================= ====== ==================
    variant        archive                   size   checked against
    ============== ========================= ====== ==================
    "100k"         ``ml-100k.zip``             5 MB size, SHA-256, MD5
    "1m"           ``ml-1m.zip``               6 MB size, SHA-256, MD5
    "10m"          ``ml-10m.zip``             63 MB MD5
    "20m"          ``ml-20m.zip``            190 MB size, SHA-256, MD5
    "25m"          ``ml-25m.zip``            250 MB size, SHA-256, MD5
    "32m"          ``ml-32m.zip``            239 MB MD5
    "latest-small" ``ml-latest-small.zip``     1 MB size, SHA-256
    ============== ========================= ====== ==================

    Sizes are approximate. The checksums are published ones (GroupLens'
    ``.md5`` files; the sizes and SHA-256 of TensorFlow Datasets' registry),
    none computed here. No SHA-256 was found in a citable source for
    ml-10m.zip and ml-32m.zip, so those two are checked against GroupLens'
    MD5 only. An archive with no known checksum would be loaded with a
    warning that it is unverified.

    Parameters
    ----------
    variant : {"100k", "1m", "10m", "20m", "25m", "32m", "latest-small"}, \
            default="100k"
        Which dataset; see :func:`load_movielens` for their contents.
    data_home : str, path-like or None, default=None
        The cache folder. None reads the environment variable
        ``SKLEARN_RECSYS_DATA``, else uses ``~/sklearn_recsys_data``. The
        archive unpacks to ``data_home/<folder>/`` (e.g. ``ml-100k/``;
        ``ml-10M100K/`` for "10m"), which :func:`load_movielens` reads too.
    download_if_missing : bool, default=True
        If False, raise a FileNotFoundError instead of downloading when the
        data is not in the cache.
    base_url : str or None, default=None
        Where to download from instead of GroupLens, e.g. a mirror of the
        same files on your network; ``<base_url>/<archive>`` must serve the
        archive. The same checksums apply.
    progress : bool, default=True
        Show a progress bar while downloading: tqdm when installed
        (``pip install sklearn-recsys[progress]``), else a percentage on
        standard error.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As returned by :func:`load_movielens`: ``interactions``, ``items``,
        ``users``, ``DESCR`` and ``name``.

    Raises
    ------
    FileNotFoundError
        If the data is not in the cache and ``download_if_missing=False``.
    OSError
        If the downloaded archive has the wrong size or checksum (the file
        is deleted), is not a zip archive, lacks the expected files, or has
        a member that would be written outside the cache folder (absolute
        path or ``..``).

    See Also
    --------
    load_movielens : Read a copy that is already on disk.

    Examples
    --------
    >>> from sklearn_recsys.datasets import fetch_movielens
    >>> data = fetch_movielens("100k")  # doctest: +SKIP
    >>> data.interactions.shape  # doctest: +SKIP
    (100000, 4)
    """
    remote = _ARCHIVES[variant]
    folder = _FOLDERS[variant]
    if data_home is None:
        data_home = os.environ.get(ENV_VAR) or DEFAULT_DATA_HOME
    home = Path(data_home).expanduser()
    if not _is_complete(home / folder, variant):
        zip_path = home / remote.filename
        if not zip_path.is_file():
            if not download_if_missing:
                raise FileNotFoundError(
                    f"MovieLens {variant!r} is not in the cache: expected "
                    f"{str(home / folder)!r} with {list(_FILES[variant])}. Call "
                    f"fetch_movielens({variant!r}) with download_if_missing=True "
                    f"to download {remote.filename}, or pass data_home= (or set "
                    f"{ENV_VAR}) to the folder that holds it."
                )
            home = get_data_home(home)
            url = (base_url or GROUPLENS_URL).rstrip("/") + "/" + remote.filename
            fd, part = tempfile.mkstemp(prefix=remote.filename + ".part_", dir=home)
            os.close(fd)
            part = Path(part)
            try:
                digests = _download(url, part, remote.filename, progress)
                _verify(part, remote, digests, url)
            except BaseException:
                part.unlink(missing_ok=True)
                raise
            os.replace(part, zip_path)  # atomic: a zip here is always complete
            downloaded = True
        else:  # an archive the user placed here: check it the same way
            _verify(zip_path, remote, _file_digests(zip_path), str(zip_path))
            downloaded = False
        try:
            _extract(zip_path, home, variant)
        finally:
            if downloaded:  # ours: unpacked, or refused and not worth keeping
                zip_path.unlink()
    return load_movielens(variant, data_home=home)
