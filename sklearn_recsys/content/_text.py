"""Catalogue columns -> documents, and a fast n-gram tokeniser.

Two things live here because every content model needs both:

* the catalogue rules (:func:`check_catalogue`, :func:`resolve_columns`):
  which columns hold text, lists of tags and numbers, and what counts as a
  bad value;
* :class:`TextTokenizer`: word n-grams and character n-grams of many
  documents at once, mapped to integer ids by hashing or by a vocabulary
  learned in ``fit``.

The tokeniser never loops over n-grams in Python. All documents are joined
into one array of code points; every n-gram is identified by a 64-bit
polynomial hash computed from prefix sums (``hash(s[a:b])`` is
``(H[b] - H[a]) * P**-a`` modulo 2**64), so a catalogue of 10,000 items with
titles and descriptions tokenises in a few tens of milliseconds.
"""

import numbers
import re

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import RealNotInt

from ..utils._param_validation import NGramRange, NumberInterval, validate_own_params

# -- catalogue rules ----------------------------------------------------------

_LIST_TYPES = (list, tuple, np.ndarray, set, frozenset)


def _is_missing(v):
    return v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))


def _non_missing(series, limit=None):
    values = series.to_numpy(dtype=object)
    if limit is not None:
        values = values[:limit]
    return [v for v in values if not _is_missing(v)]


def _is_text_column(series):
    if pd.api.types.is_string_dtype(series.dtype) and series.dtype != object:
        return True  # pandas "str"/"string" dtypes
    if series.dtype != object:
        return False
    values = _non_missing(series)
    return bool(values) and all(isinstance(v, str) for v in values)


_CHECK_LIMIT = 64  # elements of a list cell checked for numbers


def _is_vector_cell(v):
    """A non-empty 1-D array-like of numbers (bools excluded)."""
    if isinstance(v, np.ndarray):
        return v.ndim == 1 and v.size > 0 and v.dtype.kind in "iuf"
    if isinstance(v, (list, tuple)):
        return len(v) > 0 and all(
            isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))
            for x in v[:_CHECK_LIMIT]
        )
    return False


def _is_vector_column(series):
    if isinstance(series.dtype, pd.ArrowDtype):  # e.g. read_parquet(dtype_backend="pyarrow")
        import pyarrow as pa

        t = series.dtype.pyarrow_dtype
        return ((pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t))
                and (pa.types.is_integer(t.value_type) or pa.types.is_floating(t.value_type)))
    if series.dtype != object:
        return False
    values = _non_missing(series)
    return bool(values) and all(_is_vector_cell(v) for v in values)


def _is_list_column(series):
    if series.dtype != object:
        return False
    values = _non_missing(series)
    return (bool(values) and all(isinstance(v, _LIST_TYPES) for v in values)
            and not all(_is_vector_cell(v) for v in values))


def _is_numeric_column(series):
    return pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype)


def check_catalogue(items, *, name="items"):
    """Validate a catalogue and return it as a DataFrame indexed by item id.

    Parameters
    ----------
    items : pandas.DataFrame or array-like of shape (n_items, n_features)
        One row per item. A DataFrame's index holds the item ids and must be
        unique. A 2-D array of numbers is read as numeric columns named
        ``"x0"``, ``"x1"``, ...; its item ids are the row positions.
    name : str, default="items"
        Name used in error messages.

    Returns
    -------
    frame : pandas.DataFrame
        ``items`` itself when it is a DataFrame (never modified), else a new
        DataFrame wrapping the array.

    Examples
    --------
    >>> import pandas as pd
    >>> check_catalogue(pd.DataFrame({"title": ["a", "b"]}, index=[7, 7]))
    Traceback (most recent call last):
    ...
    ValueError: items has duplicate item ids in its index ...
    """
    if isinstance(items, pd.DataFrame):
        frame = items
    else:
        if isinstance(items, (str, bytes)) or not hasattr(items, "__len__"):
            raise TypeError(
                f"{name} must be a catalogue DataFrame indexed by item id (or a "
                f"2-D array of numbers); got {type(items).__name__}."
            )
        arr = np.asarray(items)
        if arr.ndim != 2:
            raise ValueError(
                f"{name} must be a catalogue DataFrame indexed by item id or a "
                f"2-D array; got an array of shape {arr.shape}."
            )
        frame = pd.DataFrame(arr, columns=[f"x{j}" for j in range(arr.shape[1])])
    if len(frame) == 0:
        raise ValueError(f"{name} has 0 rows; at least 1 item is required.")
    if not frame.index.is_unique:
        dup = frame.index[frame.index.duplicated()]
        raise ValueError(
            f"{name} has duplicate item ids in its index ({len(dup)} duplicated "
            f"rows; first: {_plain(dup[0])!r}); every item must appear once."
        )
    return frame


def resolve_columns(frame, text_columns=None, list_columns=None, numeric_columns=None,
                    *, name="items", allow_numeric=True, claimed=()):
    """Which columns of the catalogue hold text, lists and numbers.

    A parameter left to None is inferred from the data: text columns are
    string columns (pandas ``str``/``string`` dtype, or ``object`` columns whose
    non-missing values are all ``str``); list columns are ``object`` columns
    whose non-missing values are all lists, tuples, sets or 1-D arrays;
    numeric columns have a numeric or boolean dtype. A column claimed by an
    explicit parameter is not inferred again for another kind, nor is a
    column of ``claimed`` (the vector columns of :class:`ContentEncoder`).
    Columns of numeric vectors (lists or arrays of numbers) are never
    inferred as list columns. Any other column (datetimes, categoricals,
    mixed objects) is ignored.

    Returns
    -------
    text_columns, list_columns, numeric_columns : list of str
    """
    cols = list(frame.columns)

    def explicit(value, what):
        if value is None:
            return None
        if isinstance(value, str):
            value = [value]
        value = list(value)
        missing = [c for c in value if c not in frame.columns]
        if missing:
            raise ValueError(
                f"{what} names column(s) {missing} that {name} does not have; "
                f"available columns: {cols[:30]}."
            )
        return value

    text = explicit(text_columns, "text_columns")
    lists = explicit(list_columns, "list_columns")
    nums = explicit(numeric_columns, "numeric_columns") if allow_numeric else []
    claimed = list(claimed)
    taken = set(text or []) | set(lists or []) | set(nums or []) | set(claimed)
    if text is None:
        text = [c for c in cols if c not in taken and _is_text_column(frame[c])]
        taken |= set(text)
    if lists is None:
        lists = [c for c in cols if c not in taken and _is_list_column(frame[c])]
        taken |= set(lists)
    if nums is None:
        nums = [c for c in cols if c not in taken and _is_numeric_column(frame[c])]
    if not (text or lists or nums or claimed):
        raise ValueError(
            f"{name} has no usable content column: expected text (str), list "
            f"(lists of str){', numeric or vector' if allow_numeric else ''} columns; got "
            f"columns {cols[:30]} with dtypes {[str(frame[c].dtype) for c in cols[:30]]}."
        )
    return text, lists, nums


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def _row(frame, pos):
    return f"row {pos} (item id {_plain(frame.index[pos])!r})"


def text_values(frame, column):
    """Values of a text column as a list of ``str``; missing values become ``""``.

    Raises ``TypeError`` for any non-string, non-missing value.
    """
    values = frame[column].to_numpy(dtype=object)
    out = []
    for pos, v in enumerate(values):
        if isinstance(v, str):
            out.append(v)
        elif _is_missing(v):
            out.append("")
        else:
            raise TypeError(
                f"Text column {column!r} must hold strings (missing values are "
                f"read as empty text); {_row(frame, pos)} holds {v!r} of type "
                f"{type(v).__name__}."
            )
    return out


def list_values(frame, column):
    """Values of a list column as a list of lists of ``str``; missing -> ``[]``."""
    values = frame[column].to_numpy(dtype=object)
    out = []
    for pos, v in enumerate(values):
        if _is_missing(v):
            out.append([])
            continue
        if isinstance(v, str):
            raise TypeError(
                f"List column {column!r} must hold lists of strings; {_row(frame, pos)} "
                f"holds the string {v[:40]!r}. Split it first, e.g. "
                f"items[{column!r}].str.split('|')."
            )
        if not isinstance(v, _LIST_TYPES):
            raise TypeError(
                f"List column {column!r} must hold lists of strings; {_row(frame, pos)} "
                f"holds {v!r} of type {type(v).__name__}."
            )
        v = sorted(v) if isinstance(v, (set, frozenset)) else list(v)
        for t in v:
            if not isinstance(t, str):
                hint = (" A column of numeric vectors (e.g. image embeddings) goes "
                        "in vector_columns." if isinstance(t, numbers.Number) else "")
                raise TypeError(
                    f"List column {column!r} must hold lists of strings; "
                    f"{_row(frame, pos)} holds {t!r} of type {type(t).__name__}.{hint}"
                )
        out.append(v)
    return out


def numeric_values(frame, columns):
    """Numeric columns as a float64 ``(n_items, n_columns)`` array; NaN kept."""
    if not columns:
        return np.empty((len(frame), 0))
    out = np.empty((len(frame), len(columns)))
    for j, c in enumerate(columns):
        s = frame[c]
        if not _is_numeric_column(s):
            try:
                out[:, j] = pd.to_numeric(s, errors="raise").to_numpy(dtype=float)
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    f"Numeric column {c!r} must hold numbers; got dtype {s.dtype}."
                ) from exc
        else:
            out[:, j] = s.to_numpy(dtype=float, na_value=np.nan)
    if np.isinf(out).any():
        j = int(np.flatnonzero(np.isinf(out).any(axis=0))[0])
        raise ValueError(f"Numeric column {columns[j]!r} holds infinite values.")
    return out


def item_documents(frame, text_columns, list_columns):
    """One plain-text document per item: text columns, then list values.

    Used by models that read one string per item (TF-IDF, pretrained
    sentence encoders): ``"Toy Story (1995). Adventure, Animation"``.
    """
    parts = [text_values(frame, c) for c in text_columns]
    parts += [[", ".join(v) for v in list_values(frame, c)] for c in list_columns]
    if not parts:
        return [""] * len(frame)
    return [". ".join(p for p in row if p) for row in zip(*parts)]


# -- tokeniser ----------------------------------------------------------------

_M64 = (1 << 64) - 1
_P = 0x9E3779B97F4A7C15  # odd: invertible modulo 2**64
_P_INV = pow(_P, -1, 1 << 64)
_Q = 0xC2B2AE3D27D4EB4F  # combines word hashes into word n-gram hashes
_SEP = 0  # document separator code point
_SPACE = 32
_NON_WORD = re.compile(r"[^\w\x00]+")
_SALT_WORD, _SALT_CHAR = 0x5757000000000000, 0x4343000000000000


def _mix(h):
    """splitmix64 finaliser: spreads the bits of 64-bit hashes (vectorised)."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def _salt(kind, n):
    return np.uint64((kind + n) & _M64)


def _normalise(docs, lowercase):
    """Join documents into one code-point array: ``" w w \\0 w w \\0 ..."``.

    Runs of non-word characters become one space; every document is framed
    by spaces and documents are separated by code point 0.
    """
    joined = " \x00 ".join(docs)
    if joined.count("\x00") != len(docs) - 1:  # a document holds NUL itself
        joined = " \x00 ".join(d.replace("\x00", " ") for d in docs)
    if lowercase:
        joined = joined.lower()
    joined = _NON_WORD.sub(" ", " " + joined + " ")
    return np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


class TextTokenizer:
    """Word and character n-grams of many documents, as integer ids.

    Text is lower-cased (``lowercase=True``); every run of characters that
    are not letters, digits or ``_`` separates words. Tokens are

    * word n-grams for ``n`` in ``ngram_range`` (``"new york"``), never
      crossing a document boundary;
    * character n-grams for ``n`` in ``char_ngram_range`` taken inside each
      word padded with one space on each side (``" ne"``, ``"new"``,
      ``"ew "``), like scikit-learn's ``analyzer="char_wb"``.

    Each token is identified by a 64-bit hash. With ``n_buckets`` set, its id
    is ``1 + hash % n_buckets`` (the hashing trick: no fitting needed, unseen
    words still get ids, rare collisions). With ``n_buckets=None``, ``fit``
    keeps the tokens found in at least ``min_df`` documents (the
    ``max_features`` most frequent ones when set) and unseen tokens are
    dropped at transform time. Id 0 is never used: it is the padding id.

    Parameters
    ----------
    ngram_range : tuple (min_n, max_n), default=(1, 2)
        Word n-gram sizes.
    char_ngram_range : tuple (min_n, max_n) or None, default=(3, 5)
        Character n-gram sizes; None for words only.
    n_buckets : int or None, default=2**18
        Hash space size; None learns a vocabulary in ``fit``.
    min_df : int or float, default=1
        With a learned vocabulary: minimum number (int) or share (float in
        (0, 1]) of documents a token must appear in.
    max_features : int or None, default=None
        With a learned vocabulary: keep only this many most frequent tokens
        (by document frequency; ties by hash).
    lowercase : bool, default=True
        Lower-case the text first.

    Attributes
    ----------
    vocabulary_ : ndarray of uint64 or None
        Sorted hashes of the kept tokens (learned vocabulary only); token
        ``vocabulary_[i]`` has id ``i + 1``.
    n_tokens_ : int
        Number of ids including padding: ids are in ``[0, n_tokens_)``.

    See Also
    --------
    ContentEncoder : Uses this tokeniser for its text towers.
    sklearn.feature_extraction.text.HashingVectorizer : Hashing in scikit-learn.

    Examples
    --------
    >>> tok = TextTokenizer(ngram_range=(1, 1), char_ngram_range=None, n_buckets=None)
    >>> indptr, ids = tok.fit(["a new day", "a new night"]).tokenize(["new day", "old day"])
    >>> indptr.tolist(), ids.tolist()
    ([0, 2, 3], [2, 4, 4])
    >>> TextTokenizer(ngram_range=(1, 2), char_ngram_range=(3, 3)).analyze("New day!")
    ['new', 'day', 'new day', ' ne', 'new', 'ew ', ' da', 'day', 'ay ']
    """

    def __init__(self, *, ngram_range=(1, 2), char_ngram_range=(3, 5), n_buckets=2**18,
                 min_df=1, max_features=None, lowercase=True):
        self.ngram_range = ngram_range
        self.char_ngram_range = char_ngram_range
        self.n_buckets = n_buckets
        self.min_df = min_df
        self.max_features = max_features
        self.lowercase = lowercase

    def __repr__(self):
        return (
            f"TextTokenizer(ngram_range={self.ngram_range}, char_ngram_range="
            f"{self.char_ngram_range}, n_buckets={self.n_buckets}, min_df={self.min_df}, "
            f"max_features={self.max_features})"
        )

    _parameter_constraints: dict = {
        "ngram_range": [None, NGramRange()],
        "char_ngram_range": [None, NGramRange()],
        "n_buckets": [None, NumberInterval(numbers.Integral, 1, None, closed="left")],
        "min_df": [NumberInterval(numbers.Integral, 1, None, closed="left"),
                   NumberInterval(RealNotInt, 0, 1, closed="right")],
        "max_features": [None, NumberInterval(numbers.Integral, 1, None, closed="left")],
        "lowercase": ["boolean"],
    }

    def _ranges(self):
        """Validated ``(word n-gram range, char n-gram range)`` as int pairs or None."""
        validate_own_params(self)
        if self.ngram_range is None and self.char_ngram_range is None:
            raise ValueError("ngram_range and char_ngram_range cannot both be None.")
        return tuple(
            None if r is None else (int(r[0]), int(r[1]))
            for r in (self.ngram_range, self.char_ngram_range)
        )

    # -- hashing -------------------------------------------------------------
    def hash_documents(self, docs):
        """Token hashes of every document, CSR style.

        Parameters
        ----------
        docs : list of str

        Returns
        -------
        indptr : ndarray of int64, shape (n_docs + 1,)
        hashes : ndarray of uint64
            Word n-grams first (in text order, unigrams then bigrams ...),
            then character n-grams, per document.
        """
        return self._hash(docs, *self._ranges())

    def _hash(self, docs, words, chars):
        n_docs = len(docs)
        if n_docs == 0:
            return np.zeros(1, np.int64), np.empty(0, np.uint64)
        c = _normalise(docs, self.lowercase)
        n = len(c)
        with np.errstate(over="ignore"):
            pw = np.full(n, _P, dtype=np.uint64)
            pw[0] = 1
            np.cumprod(pw, out=pw)
            ipw = np.full(n, _P_INV, dtype=np.uint64)
            ipw[0] = 1
            np.cumprod(ipw, out=ipw)
            prefix = np.zeros(n + 1, dtype=np.uint64)
            np.cumsum(c * pw, out=prefix[1:])
        sep = c == _SEP
        doc_of = np.cumsum(sep) - sep  # a separator belongs to the document before it
        docs_out, hashes_out = [], []

        def segment(start, stop):
            with np.errstate(over="ignore"):
                return (prefix[stop] - prefix[start]) * ipw[start]

        if words is not None:
            is_word = (c != _SPACE) & ~sep
            edges = np.diff(np.concatenate([[False], is_word, [False]]).astype(np.int8))
            starts = np.flatnonzero(edges == 1)
            stops = np.flatnonzero(edges == -1)
            word_hash = segment(starts, stops)
            word_doc = doc_of[starts]
            for k in range(words[0], words[1] + 1):
                m = len(starts) - k + 1
                if m <= 0:
                    break
                ok = word_doc[: m] == word_doc[k - 1:]
                h = word_hash[: m][ok]
                with np.errstate(over="ignore"):
                    for j in range(1, k):
                        h = h * np.uint64(_Q) + word_hash[j: j + m][ok]
                    hashes_out.append(_mix(h + _salt(_SALT_WORD, k)))
                docs_out.append(word_doc[: m][ok])
        if chars is not None:
            cum_space = np.concatenate([[0], np.cumsum(c == _SPACE)])
            cum_sep = np.concatenate([[0], np.cumsum(sep)])
            for k in range(chars[0], chars[1] + 1):
                m = n - k + 1
                if m <= 0:
                    break
                i = np.arange(m)
                ok = cum_sep[i + k] == cum_sep[i]  # no separator inside
                if k > 2:
                    ok &= cum_space[i + k - 1] == cum_space[i + 1]  # no inner space
                if k == 1:
                    ok &= c[:m] != _SPACE
                i = i[ok]
                with np.errstate(over="ignore"):
                    hashes_out.append(_mix(segment(i, i + k) + _salt(_SALT_CHAR, k)))
                docs_out.append(doc_of[i])
        doc = np.concatenate(docs_out) if docs_out else np.empty(0, np.int64)
        hashes = np.concatenate(hashes_out) if hashes_out else np.empty(0, np.uint64)
        order = np.argsort(doc, kind="stable")
        indptr = np.zeros(n_docs + 1, dtype=np.int64)
        np.cumsum(np.bincount(doc, minlength=n_docs), out=indptr[1:])
        return indptr, hashes[order]

    def analyze(self, doc):
        """The tokens of one document as strings (slow; for reading and tests).

        Returns words n-grams, then character n-grams, in the order and with
        the multiplicity that :meth:`tokenize` uses.
        """
        word_range, char_range = self._ranges()
        text = doc.replace("\x00", " ")
        text = text.lower() if self.lowercase else text
        words = _NON_WORD.sub(" ", text).split()
        out = []
        if word_range is not None:
            for k in range(word_range[0], word_range[1] + 1):
                out += [" ".join(words[i: i + k]) for i in range(len(words) - k + 1)]
        if char_range is not None:
            stream = " " + " ".join(words) + " " if words else " "
            for k in range(char_range[0], char_range[1] + 1):
                for i in range(len(stream) - k + 1):
                    g = stream[i: i + k]
                    inner = g[1:-1] if k > 2 else ""
                    if " " in inner or (k == 1 and g == " "):
                        continue
                    out.append(g)
        return out

    def hash_token(self, token, kind):
        """The 64-bit hash of one token from :meth:`analyze` (pure Python).

        ``kind`` is ``"word"`` (a word n-gram, words joined by one space) or
        ``"char"``. Matches the vectorised hashes of :meth:`hash_documents`.
        """
        def poly(s):
            h, p = 0, 1
            for ch in s:
                h = (h + ord(ch) * p) & _M64
                p = (p * _P) & _M64
            return h

        if kind == "word":
            parts = token.split(" ")
            h = poly(parts[0])
            for w in parts[1:]:
                h = (h * _Q + poly(w)) & _M64
            salt = _SALT_WORD + len(parts)
        elif kind == "char":
            h, salt = poly(token), _SALT_CHAR + len(token)
        else:
            raise ValueError(f"kind must be 'word' or 'char'; got {kind!r}.")
        return int(_mix(np.array([(h + salt) & _M64], dtype=np.uint64))[0])

    # -- ids -------------------------------------------------------------------
    def fit(self, docs):
        """Learn the vocabulary (no-op with hashing).

        Parameters
        ----------
        docs : list of str

        Returns
        -------
        self : TextTokenizer
        """
        self._ranges()
        if self.n_buckets is not None:
            self.vocabulary_ = None
            self.n_tokens_ = int(self.n_buckets) + 1
            return self
        indptr, hashes = self.hash_documents(docs)
        doc = np.repeat(np.arange(len(docs)), np.diff(indptr))
        order = np.lexsort((doc, hashes))
        h, d = hashes[order], doc[order]
        new_pair = np.ones(len(h), dtype=bool)
        new_pair[1:] = (h[1:] != h[:-1]) | (d[1:] != d[:-1])
        h = h[new_pair]  # one entry per (token, document)
        first = np.flatnonzero(np.concatenate([[True], h[1:] != h[:-1]])) if len(h) else np.empty(0, np.int64)
        tokens, df = h[first], np.diff(np.append(first, len(h)))
        min_df = self.min_df if isinstance(self.min_df, numbers.Integral) else int(
            np.ceil(self.min_df * len(docs)))
        keep = df >= min_df
        tokens, df = tokens[keep], df[keep]
        if self.max_features is not None and len(tokens) > self.max_features:
            top = np.lexsort((tokens, -df))[: self.max_features]
            tokens = np.sort(tokens[top])
        self.vocabulary_ = tokens
        self.n_tokens_ = len(tokens) + 1
        return self

    def _ids(self, indptr, hashes):
        if self.vocabulary_ is None:
            return indptr, (hashes % np.uint64(self.n_buckets)).astype(np.int64) + 1
        vocab = self.vocabulary_
        pos = np.searchsorted(vocab, hashes)
        if len(vocab):
            known = vocab[np.minimum(pos, len(vocab) - 1)] == hashes
        else:
            known = np.zeros(len(hashes), dtype=bool)
        row = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        new_ptr = np.zeros_like(indptr)
        np.cumsum(np.bincount(row[known], minlength=len(indptr) - 1), out=new_ptr[1:])
        return new_ptr, pos[known].astype(np.int64) + 1

    def tokenize(self, docs):
        """Token ids of every document (all n-grams), CSR style.

        Returns
        -------
        indptr : ndarray of int64, shape (n_docs + 1,)
        ids : ndarray of int64
            In ``[1, n_tokens_)``.
        """
        if not hasattr(self, "n_tokens_"):
            raise RuntimeError("TextTokenizer is not fitted; call fit(docs) first.")
        return self._ids(*self.hash_documents(docs))

    def tokenize_words(self, docs):
        """Ids of each document's words (unigrams), in text order, CSR style.

        The input of the sequence towers. Needs ``ngram_range`` to include 1;
        with a learned vocabulary, words outside it are dropped.
        """
        if not hasattr(self, "n_tokens_"):
            raise RuntimeError("TextTokenizer is not fitted; call fit(docs) first.")
        word_range = self._ranges()[0]
        if word_range is None or word_range[0] != 1:
            raise ValueError(
                "Word sequences need word unigrams: ngram_range must start at 1; "
                f"got {self.ngram_range!r}."
            )
        return self._ids(*self._hash(docs, (1, 1), None))


def pad_rows(indptr, values, max_length, *, pad=0, spread=False):
    """Right-padded ``(n_rows, L)`` int64 matrix of CSR rows, at most ``max_length`` wide.

    ``L`` is the longest row (at most ``max_length``), and at least 1. A
    longer row keeps its first ``max_length`` values, or with ``spread=True``
    ``max_length`` values evenly spaced over the whole row (for bags of
    tokens, where every field should keep a share).

    Examples
    --------
    >>> import numpy as np
    >>> pad_rows(np.array([0, 3, 3, 4]), np.array([5, 6, 7, 8]), 2)
    array([[5, 6],
           [0, 0],
           [8, 0]])
    >>> pad_rows(np.array([0, 4]), np.array([5, 6, 7, 8]), 2, spread=True)
    array([[5, 7]])
    """
    full = np.diff(indptr)
    lengths = np.minimum(full, max_length)
    width = max(1, int(lengths.max(initial=0)))
    out = np.full((len(lengths), width), pad, dtype=np.int64)
    row = np.repeat(np.arange(len(lengths)), lengths)
    col = np.arange(len(row)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    src = (col * full[row]) // np.maximum(lengths[row], 1) if spread else col
    out[row, col] = values[indptr[:-1][row] + src]
    return out
