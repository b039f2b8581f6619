"""Tokenising a catalogue: ours against a per-token loop and scikit-learn's vectorizers.

The same documents (title and description of ``make_sessions(n_items=N)``'s
synthetic catalogue) go through:

* ``TextTokenizer().fit(docs).tokenize(docs)``: the package's vectorised path, word
  1-2-grams and character 3-5-grams inside words, hashed to ``2**18``
  buckets (the ``ContentEncoder`` defaults);
* the per-token loop it replaces: ``analyze(doc)`` then ``hash_token`` for
  every token, in Python (the reference the tests compare against, same
  output);
* scikit-learn's ``HashingVectorizer`` with ``ngram_range=(1, 2)`` plus a
  second one with ``analyzer="char_wb", ngram_range=(3, 5)``, each with
  ``n_features=2**18``: comparable work, not the same tokens (its default
  token pattern drops one-letter words, and it returns counts, not sequences).

The runs are interleaved, a few repeats each; medians are compared as
ratios against ours. The token count shows the output sizes.

Run ``python benchmarks/bench_tokenizer.py [--sizes 2000,10000]``; it prints
a table and writes ``docs/benchmarks/tokenizer.rst``.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_cold_start import page_tail, rst_table  # noqa: E402

from sklearn_recsys.content import TextTokenizer  # noqa: E402
from sklearn_recsys.datasets import make_sessions  # noqa: E402


def documents(n_items):
    items = make_sessions(n_users=2, n_items=n_items, random_state=0).items
    return (items["title"] + " " + items["description"]).tolist()


def ours(docs):
    indptr, ids = TextTokenizer().fit(docs).tokenize(docs)
    return len(ids)


def loop_ids(docs):
    """Token ids of each document, one token at a time."""
    tok = TextTokenizer()
    words = TextTokenizer(char_ngram_range=None)
    chars = TextTokenizer(ngram_range=None)
    out = []
    for doc in docs:
        hashes = [tok.hash_token(t, "word") for t in words.analyze(doc)]
        hashes += [tok.hash_token(t, "char") for t in chars.analyze(doc)]
        out.append((np.asarray(hashes, dtype=np.uint64) % np.uint64(tok.n_buckets)).astype(np.int64) + 1)
    return out


def per_token_loop(docs):
    return sum(len(ids) for ids in loop_ids(docs))


def check_same(docs):
    """The loop and ours give the same ids (else the timing means nothing)."""
    indptr, ids = TextTokenizer().fit(docs).tokenize(docs)
    for i, ref in enumerate(loop_ids(docs)):
        if not np.array_equal(ids[indptr[i]:indptr[i + 1]], ref):
            raise SystemExit(f"document {i}: the vectorised ids differ from the loop's")


def sklearn_hashing(docs):
    word = HashingVectorizer(ngram_range=(1, 2), n_features=2**18, norm=None, alternate_sign=False)
    char = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), n_features=2**18,
                             norm=None, alternate_sign=False)
    return int(word.transform(docs).sum() + char.transform(docs).sum())


METHODS = {
    "TextTokenizer.tokenize (ours)": ours,
    "per-token loop (analyze + hash_token)": per_token_loop,
    "sklearn HashingVectorizer, word + char_wb": sklearn_hashing,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,10000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "tokenizer.rst")
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_tokenizer.py " + " ".join(argv if argv is not None else sys.argv[1:])
    rows = []
    for n_items in (int(s) for s in args.sizes.split(",") if s):
        docs = documents(n_items)
        check_same(docs[:200])
        times, tokens = {name: [] for name in METHODS}, {}
        for _ in range(args.repeats):  # interleaved
            for name, method in METHODS.items():
                start = time.perf_counter()
                tokens[name] = method(docs)
                times[name].append(time.perf_counter() - start)
        base = np.median(times["TextTokenizer.tokenize (ours)"])
        for name in METHODS:
            median = np.median(times[name])
            rows.append({"items": str(n_items), "method": name, "tokens": str(tokens[name]),
                         "median (s)": f"{median:.3f}", "vs ours": f"{median / base:.1f}x"})
            print(rows[-1], flush=True)
    table = rst_table(rows)
    print(table)
    title = "Tokenising a catalogue"
    lines = [title, "=" * len(title), "",
             *__doc__.split("\n\n", 1)[1].split("Run ``python")[0].rstrip().splitlines(), "",
             table, "", *page_tail(args.out, command)]
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
