"""The main job: ``python -m sklearn_recsys`` / ``sklearn-recsys``.

``evaluate`` (the default) compares recommenders on one dataset with the
leave-last-out protocol and prints a results table; ``recommend`` loads a
pipeline saved with joblib and recommends for a history given on the command
line; ``score`` recommends for every history of a CSV or Parquet file, in
batches, and writes the lists to a file.

Only NumPy is imported at start-up: each command imports what it uses, so
``recommend`` on a saved baseline never loads torch.
"""

import argparse
import sys
import time

import numpy as np

MODELS = ("popularity", "itemknn", "ease", "transition", "intent")
DEFAULT_MODELS = ("popularity", "itemknn", "ease", "transition")
MOVIELENS = {"ml-100k": "100k", "ml-latest-small": "latest-small", "ml-1m-sas-trunc": "1m-sas-trunc"}


def _make_model(name, *, random_state, quick):
    from .baselines import EASE, ItemKNN, Popularity, Transition

    if name == "popularity":
        return Popularity()
    if name == "itemknn":
        return ItemKNN()
    if name == "ease":
        return EASE()
    if name == "transition":
        return Transition()
    if name == "intent":
        from .intent import IntentRecommender, RankingEarlyStopping

        # early stopping on the last item of each training sequence, never
        # on the test rows; skorch's epoch table is the progress display
        return IntentRecommender(
            max_epochs=3 if quick else 60, lr=3e-3, validation=1.0,
            callbacks=[RankingEarlyStopping(patience=5)],
            random_state=random_state, verbose=1,
        )
    raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")


def _load(args, log):
    from .datasets import load_interactions, load_movielens, make_sessions

    if args.data == "synthetic":
        n_users = args.n_users or (300 if args.quick else 2000)
        log(f"Generating synthetic sessions: {n_users} users ...")
        return make_sessions(n_users=n_users, random_state=args.random_state).interactions
    if args.data in MOVIELENS:
        log(f"Loading MovieLens {args.data} ...")
        return load_movielens(MOVIELENS[args.data], data_home=args.data_home).interactions
    log(f"Loading interaction log {args.data} ...")
    return load_interactions(
        args.data,
        user_col=args.user_col,
        item_col=args.item_col,
        time_col=None if args.time_col == "none" else args.time_col,
    )


def _format_table(rows, columns):
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(columns, widths)))
    out = [line, "-" * len(line)]
    for r in rows:
        out.append("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths))))
    return "\n".join(out)


def evaluate(args, out=None):
    """Fit every model on the training rows and score the held-out last items."""
    out = sys.stdout if out is None else out
    from .datasets import queries_from_log
    from .metrics import catalog_coverage, hit_rate_at_k, mrr_at_k, ndcg_at_k
    from .model_selection import leave_last_out_split

    def log(msg):
        print(msg, file=out, flush=True)

    interactions = _load(args, log)
    X, y = queries_from_log(interactions, n_last=2, max_len=args.max_len)
    X_train, X_test, y_train, y_test = leave_last_out_split(X, y)
    n_items = interactions["item_id"].nunique()
    log(
        f"{interactions['user_id'].nunique()} users, {n_items} items, "
        f"{len(interactions)} interactions; leave-last-out: {len(X_train)} training "
        f"rows, {len(X_test)} test rows; full ranking, seen items excluded"
    )
    k = args.k
    k_curve = max(k, 20)
    rows, results, curves = [], {}, {}
    for i, name in enumerate(args.models, 1):
        model = _make_model(name, random_state=args.random_state, quick=args.quick)
        log(f"{_bar(i - 1, len(args.models))} {type(model).__name__}: fitting ...")
        t0 = time.perf_counter()
        model.fit(X_train, y_train)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        rec_all = model.recommend(X_test, k=min(k_curve, len(model.classes_)))
        rec_s = time.perf_counter() - t0
        rec = rec_all[:, :k]
        curves[name] = [ndcg_at_k(y_test, rec_all, k=j) for j in range(1, rec_all.shape[1] + 1)]
        res = {
            f"NDCG@{k}": ndcg_at_k(y_test, rec, k=k),
            f"HR@{k}": hit_rate_at_k(y_test, rec, k=k),
            f"MRR@{k}": mrr_at_k(y_test, rec, k=k),
            "coverage": catalog_coverage(rec, items=n_items),
            "fit s": fit_s,
            "recommend s": rec_s,
        }
        results[name] = res
        log(
            f"{_bar(i, len(args.models))} {type(model).__name__}: "
            f"NDCG@{k}={res[f'NDCG@{k}']:.4f} (fit {fit_s:.1f} s)"
        )
        rows.append([name] + [_fmt(c, v) for c, v in res.items()])
    columns = ["model"] + list(next(iter(results.values())))
    table = _format_table(rows, columns)
    log("")
    log(table)
    if args.report:
        path = write_report(args.report, table, curves, args, len(X_train), len(X_test))
        log(f"\nReport written to {path}")
    return results


def _bar(done, total, width=20):
    filled = round(width * done / total)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def _fmt(column, value):
    return f"{value:.2f}" if column.endswith(" s") else f"{value:.4f}"


def write_report(directory, table, curves, args, n_train, n_test):
    """Write ``report.md`` and ``ndcg_at_k.png`` (when matplotlib is installed)."""
    import platform
    from pathlib import Path

    from . import __version__

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# sklearn-recsys evaluation: {args.data}",
        "",
        f"Leave-last-out: each user's last event is the test target ({n_test} test rows, "
        f"{n_train} training rows); every item ranked, the user's own items excluded.",
        "",
        "```",
        table,
        "```",
        "",
    ]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        lines.append("(Install matplotlib for the NDCG@k plot.)")
    else:
        fig, ax = plt.subplots(figsize=(6, 4))
        for name, curve in curves.items():
            ax.plot(range(1, len(curve) + 1), curve, marker="o", ms=3, label=name)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_xlabel("k (list length)")
        ax.set_ylabel("NDCG@k on held-out last items")
        ax.set_title(f"NDCG@k by model: {args.data}")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "ndcg_at_k.png", dpi=120)
        plt.close(fig)
        lines += ["![NDCG@k by model](ndcg_at_k.png)", ""]
    lines += [
        f"sklearn-recsys {__version__}, Python {platform.python_version()}, "
        f"{platform.machine()}, {platform.processor() or platform.system()}.",
    ]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def recommend(args, out=None):
    """Load a saved pipeline and print the top-k items for one history."""
    out = sys.stdout if out is None else out
    import joblib

    model = joblib.load(args.model)
    history = [int(v) if v.lstrip("-").isdigit() and args.int_ids else v for v in args.history]
    items = model.recommend([history], k=args.k)[0]
    for rank, item in enumerate(items, 1):
        print(f"{rank:>3}  {item}", file=out)
    return items


class InputError(ValueError):
    """A bad input file or column of ``score``: reported without a traceback."""


_PARQUET = (".parquet", ".pq")
_TEXT = {".csv": ",", ".tsv": "\t", ".txt": None}
LAYOUTS = ("auto", "histories", "log")


def _format(path, what):
    from pathlib import Path

    ext = Path(path).suffix.lower()
    if ext in _PARQUET:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise InputError(
                f"{what} {str(path)!r} is Parquet, which needs pyarrow: "
                "pip install 'sklearn-recsys[parquet]'."
            ) from None
        return "parquet"
    if ext in _TEXT:
        return ext
    raise InputError(
        f"{what} {str(path)!r} must end in .csv, .tsv, .txt, .parquet or .pq; got {ext or 'no extension'!r}."
    )


def _read_table(path):
    from pathlib import Path

    import pandas as pd

    fmt = _format(path, "Input file")
    if not Path(path).is_file():
        raise InputError(f"Input file not found: {str(path)!r}.")
    try:
        if fmt == "parquet":
            return pd.read_parquet(path)
        sep = _TEXT[fmt]
        return pd.read_csv(path, sep=sep, engine="python" if sep is None else "c")
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InputError(f"Could not read {str(path)!r} as {fmt.lstrip('.')}: {exc}") from None


def _parse_histories(values, int_ids):
    """History cells: space-separated ids (CSV) or lists (Parquet).

    Ids become integers when every id of the file is one (as in
    ``recommend``), unless ``int_ids`` is False; an empty cell is an empty
    history (the popularity fallback).
    """
    rows = []
    for value in values:
        if isinstance(value, str):
            rows.append(value.split())
        elif value is None or (isinstance(value, float) and value != value):
            rows.append([])
        else:
            rows.append(list(value))
    if int_ids:
        try:
            return [[int(t) for t in row] for row in rows]
        except (TypeError, ValueError):
            pass
    return [[t if isinstance(t, str) else str(t) for t in row] for row in rows]


def _histories(table, args):
    """``(users, queries)``: one query row per user, its history oldest first."""
    import pandas as pd

    columns = list(table.columns)
    layout = args.layout
    if layout == "auto":
        layout = "histories" if args.history_col in columns else "log" if args.item_col in columns else None
        if layout is None:
            raise InputError(
                f"Input file has neither a history column {args.history_col!r} nor an item "
                f"column {args.item_col!r}; its columns are {columns}. Name yours with "
                "--history-col (one row per user) or --item-col (one row per event)."
            )
    needed = [args.history_col] if layout == "histories" else [args.user_col or "user_id", args.item_col]
    time_col = args.time_col
    if time_col is None:
        time_col = "timestamp" if "timestamp" in columns else "none"
    if layout == "log" and time_col != "none":
        needed.append(time_col)
    if layout == "histories" and args.user_col:
        needed.append(args.user_col)
    missing = [c for c in needed if c not in columns]
    if missing:
        raise InputError(
            f"Input file has no column {missing[0]!r} (layout {layout!r}); its columns are {columns}."
        )
    if layout == "histories":
        user_col = args.user_col or ("user_id" if "user_id" in columns else None)
        users = table[user_col].to_numpy() if user_col else pd.RangeIndex(len(table)).to_numpy()
        queries = table.drop(columns=[args.history_col]).reset_index(drop=True)
        queries["history"] = _parse_histories(table[args.history_col], args.int_ids)
        return users, queries
    user_col = args.user_col or "user_id"
    log = table[needed]
    if log[[user_col, args.item_col]].isna().any().any():
        raise InputError(f"Input file has missing values in {user_col!r} or {args.item_col!r}.")
    if time_col != "none":
        log = log.sort_values([time_col], kind="stable")
    items = log[args.item_col] if args.int_ids else log[args.item_col].astype(str)
    grouped = items.groupby(log[user_col], sort=True).agg(list)
    return grouped.index.to_numpy(), pd.DataFrame({"history": grouped.to_list()})


class _Counter:
    """A progress display on stderr when tqdm is not installed."""

    def __init__(self, total):
        self.total, self.done = total, 0

    def update(self, n):
        self.done += n
        print(f"\rscored {self.done}/{self.total} rows", end="", file=sys.stderr, flush=True)

    def close(self):
        print(file=sys.stderr, flush=True)


class _Quiet:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress(total, quiet):
    if quiet:
        return _Quiet()
    try:
        from tqdm import tqdm
    except ImportError:
        return _Counter(total)
    return tqdm(total=total, unit="row", desc="scoring", file=sys.stderr)


class _Writer:
    """Writes ``user, rank, item, score`` blocks to CSV/TSV or Parquet."""

    def __init__(self, path):
        self.path, self.fmt = path, _format(path, "Output file")
        self._parquet = None
        self._started = False

    def write(self, frame):
        if self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            if self._parquet is None:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                self._parquet = pq.ParquetWriter(self.path, table.schema)
            else:
                table = pa.Table.from_pandas(frame, schema=self._parquet.schema, preserve_index=False)
            self._parquet.write_table(table)
        else:
            frame.to_csv(
                self.path, sep=_TEXT[self.fmt] or ",", index=False,
                mode="a" if self._started else "w", header=not self._started,
            )
        self._started = True

    def close(self):
        if self._parquet is not None:
            self._parquet.close()
        elif not self._started:  # no rows: still a file with its header
            import pandas as pd

            self.write(pd.DataFrame({"user": [], "rank": [], "item": [], "score": []}))


def score(args):
    """Recommend for every history of ``args.input``; write ``args.output``.

    The input holds one row per user with a column of item ids separated by
    spaces (``--history-col``, default ``history``; a list column in
    Parquet) and an optional user column (``--user-col``, default
    ``user_id`` when present, else the row number), or, with
    ``--layout log``, one row per event (``--user-col``, ``--item-col``
    and ``--time-col``, default ``timestamp`` when present; the file order
    is the time order without it). Other columns of a histories file reach the model as they are (a
    pipeline's context columns). The output has one row per recommended
    item: ``user, rank, item, score``, rank 1 the best.

    Returns the number of users scored.
    """
    from pathlib import Path

    import joblib
    import pandas as pd

    writer = _Writer(args.output)  # a bad output extension fails before any work
    if not Path(args.model).is_file():
        raise InputError(f"Model file not found: {str(args.model)!r}.")
    users, queries = _histories(_read_table(args.input), args)
    model = joblib.load(args.model)
    if not hasattr(model, "recommend"):
        raise InputError(f"{str(args.model)!r} holds a {type(model).__name__}, not a recommender.")
    bar = _progress(len(queries), args.quiet)
    try:
        for start in range(0, len(queries), args.batch_size):
            batch = queries.iloc[start:start + args.batch_size].reset_index(drop=True)
            items, scores = model.recommend(batch, k=args.k, return_scores=True)
            n, k = items.shape
            writer.write(pd.DataFrame({
                "user": np.repeat(users[start:start + n], k),
                "rank": np.tile(np.arange(1, k + 1), n),
                "item": items.ravel(),
                "score": np.asarray(scores, dtype=np.float32).ravel(),
            }))
            bar.update(n)
    finally:
        bar.close()
        writer.close()
    return len(queries)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="sklearn-recsys",
        description="Compare recommenders on a dataset, or recommend with a saved model.",
    )
    sub = parser.add_subparsers(dest="command")
    ev = sub.add_parser("evaluate", help="compare models with leave-last-out (default)")
    ev.add_argument(
        "--data", default="synthetic",
        help="'synthetic' (default), a MovieLens variant (ml-100k, ml-latest-small, "
        "ml-1m-sas-trunc) or the path of a CSV/TSV/Parquet interaction log",
    )
    ev.add_argument("--data-home", default=None, help="folder holding the ml-* folders (default: $SKLEARN_RECSYS_DATA)")
    ev.add_argument("--models", default=",".join(DEFAULT_MODELS), help=f"comma-separated, from {','.join(MODELS)}")
    ev.add_argument("--k", type=int, default=10, help="list length (default 10)")
    ev.add_argument("--n-users", type=int, default=None, help="synthetic data: number of users")
    ev.add_argument("--max-len", type=int, default=None, help="keep only the last MAX_LEN items of each history")
    ev.add_argument("--user-col", default="user_id")
    ev.add_argument("--item-col", default="item_id")
    ev.add_argument("--time-col", default="timestamp", help="'none' when the file order is the time order")
    ev.add_argument("--random-state", type=int, default=0)
    ev.add_argument("--quick", action="store_true", help="small data and few epochs (a smoke run)")
    ev.add_argument("--report", default=None, metavar="DIR", help="write report.md and plots to DIR")
    rec = sub.add_parser("recommend", help="recommend with a pipeline saved by joblib")
    rec.add_argument("model", help="path of a joblib file holding a fitted recommender or pipeline")
    rec.add_argument("history", nargs="+", help="item ids, oldest first")
    rec.add_argument("--k", type=int, default=10)
    rec.add_argument("--str-ids", dest="int_ids", action="store_false", help="treat ids as strings")
    sc = sub.add_parser(
        "score", help="recommend for every history of a CSV/Parquet file, in batches",
        description="Recommend for every history of INPUT and write OUTPUT (CSV or Parquet, "
        "by extension) with the columns user, rank, item, score. INPUT holds one row per "
        "user with a column of space-separated item ids (a list column in Parquet), or "
        "with --layout log one row per event (user, item[, time]).",
    )
    sc.add_argument("model", help="path of a joblib file holding a fitted recommender or pipeline")
    sc.add_argument("input", help="histories: .csv, .tsv, .txt, .parquet or .pq")
    sc.add_argument("output", help="recommendations: .csv, .tsv, .txt, .parquet or .pq")
    sc.add_argument("--k", type=int, default=10, help="items per user (default 10)")
    sc.add_argument("--batch-size", type=int, default=1000, help="users per recommend call (default 1000)")
    sc.add_argument("--layout", choices=LAYOUTS, default="auto",
                    help="'histories' (one row per user), 'log' (one row per event), or 'auto' "
                    "(default): histories when the history column exists, else log")
    sc.add_argument("--history-col", default="history", help="histories layout: item ids column")
    sc.add_argument("--user-col", default=None,
                    help="user id column (default 'user_id'; histories layout: optional, "
                    "the row number when absent)")
    sc.add_argument("--item-col", default="item_id", help="log layout: item id column")
    sc.add_argument("--time-col", default=None,
                    help="log layout: order each user's events by it (default 'timestamp' when "
                    "present; 'none': the file order)")
    sc.add_argument("--str-ids", dest="int_ids", action="store_false", help="treat ids as strings")
    sc.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv=None):
    """Entry point of ``python -m sklearn_recsys`` and ``sklearn-recsys``."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("evaluate", "recommend", "score", "-h", "--help"):
        argv = ["evaluate", *argv]
    args = parser.parse_args(argv)
    if args.command == "recommend":
        recommend(args)
        return 0
    if args.command == "score":
        for name in ("k", "batch_size"):
            if getattr(args, name) <= 0:
                parser.error(f"--{name.replace('_', '-')} must be a positive integer; got {getattr(args, name)}")
        try:
            score(args)
        except InputError as exc:
            parser.exit(2, f"sklearn-recsys score: error: {exc}\n")
        return 0
    models = [m.strip().lower() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}")
    if args.k <= 0:
        parser.error(f"--k must be a positive integer; got {args.k}")
    args.models = models
    np.seterr(all="ignore")
    evaluate(args)
    return 0
