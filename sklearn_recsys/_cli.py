"""The main job: ``python -m sklearn_recsys`` / ``sklearn-recsys``.

``evaluate`` (the default) compares recommenders on one dataset with the
leave-last-out protocol, on warm rows and on cold rows (targets that are new
items, never seen in training), prints progress and results tables and
writes a report with plots. On the built-in synthetic data it runs the whole
chain by default: preprocessing, the four baselines, TF-IDF, and the
content-aware intent model (a ContentEncoder tower inside an
IntentRecommender); ``--quick`` runs the baselines alone in seconds.
``recommend`` loads a
pipeline saved with :func:`sklearn_recsys.io.save` (or joblib, trusted files
only) and recommends for a history given on the command line; ``score``
recommends for every history of a CSV or Parquet file, in batches, and
writes the lists to a file.

Only NumPy is imported at start-up: each command imports what it uses, so
``recommend`` on a saved baseline never loads torch.
"""

import argparse
import sys
import time

import numpy as np

MODELS = ("popularity", "itemknn", "ease", "transition", "tfidf", "intent", "intent-content")
# --quick, and the default on data other than the synthetic sessions
DEFAULT_MODELS = ("popularity", "itemknn", "ease", "transition")
# the default on the synthetic sessions: the whole chain
FULL_MODELS = (*DEFAULT_MODELS, "tfidf", "intent-content")
# models that read the item catalogue, so they can rank items never seen in training
CONTENT_MODELS = ("tfidf", "intent-content")
NETWORKS = ("intent", "intent-content")
MOVIELENS = {"ml-100k": "100k", "ml-latest-small": "latest-small", "ml-1m-sas-trunc": "1m-sas-trunc"}
# catalogue columns read as content: text, lists of tags, numbers
CONTENT_COLUMNS = {
    "synthetic": (["title", "description"], ["tags"], []),
    "ml-100k": (["title"], ["genres"], ["year"]),
    "ml-latest-small": (["title"], ["genres", "tags"], ["year"]),
    "ml-1m-sas-trunc": (["title"], ["genres"], ["year"]),
}
# sizes: the default run takes about two minutes on 2 CPU cores with one
# torch thread (measured: benchmarks/bench_main_job.py); --quick takes seconds
SIZES = {"full": {"n_users": 3000, "epochs": 30}, "quick": {"n_users": 300, "epochs": 3}}
COLD_SHARE = 0.1  # share of the distinct target items held out as new items
DEFAULT_REPORT = "sklearn-recsys-report"


def resolve_models(args):
    """Model names to run: ``--models``, else the default of the data and mode.

    The default is the whole chain (:data:`FULL_MODELS`) on the synthetic
    sessions and the four baselines with ``--quick`` or on other data.
    Raises ``ValueError`` for unknown names and for content models on a log
    without a catalogue.
    """
    models = args.models
    if models is None:
        models = DEFAULT_MODELS if args.quick or args.data != "synthetic" else FULL_MODELS
    elif isinstance(models, str):
        models = [m.strip().lower() for m in models.split(",") if m.strip()]
    models = list(models)
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}")
    if not models:
        raise ValueError(f"--models names no model; choose from {', '.join(MODELS)}")
    content = [m for m in models if m in CONTENT_MODELS]
    if content and args.data not in CONTENT_COLUMNS:
        raise ValueError(
            f"{', '.join(content)} read the item catalogue (titles, tags); --data "
            f"{args.data!r} is an interaction log without one. Use --data synthetic or a "
            f"MovieLens variant ({', '.join(MOVIELENS)}), or drop {', '.join(content)}."
        )
    return models


def _size(args, name):
    value = getattr(args, name, None)
    return SIZES["quick" if args.quick else "full"][name] if value is None else value


def _cold_share(args, models):
    """``--cold-items``, else 0.1 when a content model runs and 0 otherwise."""
    share = getattr(args, "cold_items", None)
    if share is None:
        return COLD_SHARE if any(m in CONTENT_MODELS for m in models) else 0.0
    return share


def _epoch_logger(log, name):
    """A skorch callback printing one progress line per epoch through ``log``."""
    from skorch.callbacks import Callback

    class EpochLog(Callback):
        def on_epoch_end(self, net, **kwargs):
            row = net.history[-1]
            best = " *" if row.get("valid_ndcg_best") else ""
            valid = f"  valid NDCG@10 {row['valid_ndcg']:.4f}{best}" if "valid_ndcg" in row else ""
            log(
                f"    {name} epoch {row['epoch']:>3}/{net.max_epochs}  "
                f"train loss {row['train_loss']:.4f}{valid}  ({row['dur']:.1f} s)"
            )

    return EpochLog()


def _make_model(name, *, random_state, quick, catalogue=None, columns=None, epochs=None,
                device="auto", log=None):
    from .baselines import EASE, ItemKNN, Popularity, Transition

    if name == "popularity":
        return Popularity()
    if name == "itemknn":
        return ItemKNN()
    if name == "ease":
        return EASE()
    if name == "transition":
        return Transition()
    text, lists, numbers = columns if columns is not None else (None, None, None)
    if name == "tfidf":
        from .content import TfidfRecommender

        return TfidfRecommender(items=catalogue, text_columns=text, list_columns=lists)
    if name in NETWORKS:
        from .intent import IntentRecommender, RankingEarlyStopping

        epochs = SIZES["quick" if quick else "full"]["epochs"] if epochs is None else epochs
        # early stopping on the last item of each training sequence, never
        # on the test rows; one progress line per epoch
        callbacks = [RankingEarlyStopping(patience=3)]
        if log is not None:  # first: early stopping ends the last epoch
            callbacks.insert(0, _epoch_logger(log, name))
        content = {}
        if name == "intent-content":
            from .content import ContentEncoder

            # the content tower: a bag of words of the catalogue text and
            # tags, tokenised here and trained jointly with the sequence
            # network; min_df=2 keeps the words a new item can share
            encoder = ContentEncoder(
                text_columns=text, list_columns=lists, numeric_columns=numbers,
                ngram_range=(1, 1), min_df=2, char_ngram_range=None, module__d_model=64,
                max_epochs=0, random_state=random_state,
            )
            content = {"item_encoder": encoder, "items": catalogue}
        return IntentRecommender(
            module__d_model=64, module__n_layers=1, max_len=50, lr=5e-3, batch_size=128,
            max_epochs=epochs, validation=1.0, callbacks=callbacks, random_state=random_state,
            device=device, verbose=0, **content,
        )
    raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")


def _load(args, log):
    """Interactions and the catalogue (None for a log file) of ``--data``."""
    from .datasets import load_interactions, load_movielens, make_sessions

    if args.data == "synthetic":
        n_users = _size(args, "n_users")
        log(f"Generating synthetic sessions: {n_users} users ...")
        data = make_sessions(n_users=n_users, random_state=args.random_state)
        return data.interactions, data.items
    if args.data in MOVIELENS:
        log(f"Loading MovieLens {args.data} ...")
        data = load_movielens(MOVIELENS[args.data], data_home=args.data_home)
        return data.interactions, data.items
    log(f"Loading interaction log {args.data} ...")
    interactions = load_interactions(
        args.data,
        user_col=args.user_col,
        item_col=args.item_col,
        time_col=None if args.time_col == "none" else args.time_col,
    )
    return interactions, None


def _format_table(rows, columns):
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(columns, widths)))
    out = [line, "-" * len(line)]
    for r in rows:
        out.append("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths))))
    return "\n".join(out)


def _split(interactions, args, cold_share, log):
    """Queries of the log and the splits: training, warm and cold rows.

    Without cold items: leave-last-out on each user's last two cut points.
    With them: ``cold_item_split`` holds out ``cold_share`` of the distinct
    target items (the cold rows are the queries whose target is one of
    them; they are removed from every other history), then leave-last-out
    on each user's remaining last two cut points gives the warm rows.
    """
    from .datasets import queries_from_log
    from .model_selection import cold_item_split, leave_last_out_split

    X, y = queries_from_log(interactions, n_last=3 if cold_share else 2, max_len=args.max_len)
    y = np.asarray(y)
    held = np.empty(0, dtype=y.dtype)
    X_cold = y_cold = None
    if cold_share:
        X, X_cold, y, y_cold = cold_item_split(
            X, y, test_size=cold_share, random_state=args.random_state, strip_history=True
        )
        held = np.unique(y_cold)
    X_train, X_warm, y_train, y_warm = leave_last_out_split(X, y)
    n_items = interactions["item_id"].nunique()
    log(
        f"Preprocessing: {interactions['user_id'].nunique()} users, {n_items} items, "
        f"{len(interactions)} interactions -> {len(X_train)} training rows, "
        f"{len(X_warm)} warm test rows (each user's last item)"
        + (
            f", {len(X_cold)} cold test rows (targets: {len(held)} new items, "
            f"{cold_share:.0%} of the targets, never seen in training)"
            if cold_share else ""
        )
        + "; full ranking, seen items excluded"
    )
    return (X_train, y_train), (X_warm, y_warm), (X_cold, y_cold), held, n_items


def _scores(model, X, y, k, n_items, prefix=""):
    """Metrics at ``k`` and the NDCG@j curve of one model on one set of rows."""
    from .metrics import catalog_coverage, hit_rate_at_k, mrr_at_k, ndcg_at_k

    t0 = time.perf_counter()
    rec_all = model.recommend(X, k=min(max(k, 20), len(model.classes_)))
    rec_s = time.perf_counter() - t0
    rec = rec_all[:, :k]
    res = {
        f"{prefix}NDCG@{k}": ndcg_at_k(y, rec, k=k),
        f"{prefix}HR@{k}": hit_rate_at_k(y, rec, k=k),
        f"{prefix}MRR@{k}": mrr_at_k(y, rec, k=k),
        f"{prefix}coverage": catalog_coverage(rec, items=n_items),
    }
    curve = [ndcg_at_k(y, rec_all, k=j) for j in range(1, rec_all.shape[1] + 1)]
    return res, curve, rec, rec_s


def evaluate(args, out=None):
    """Fit every model on the training rows and score the warm and cold test rows.

    Prints progress (a line per model, a line per epoch of the networks),
    the results tables and, unless ``--quick`` or ``--no-report``, writes
    the report (:func:`write_report`).

    Parameters
    ----------
    args : argparse.Namespace
        Options of the ``evaluate`` parser (:func:`build_parser`);
        ``args.models`` may be None (the default of the data and mode), a
        comma-separated string or a list of names.
    out : file-like, default=None
        Where progress and tables go; None for standard output.

    Returns
    -------
    results : dict
        ``{model name: {metric: value}}``: the warm-row metrics under their
        names (``NDCG@10``, ``HR@10``, ``MRR@10``, ``coverage``), with items
        held out also the cold-row ones prefixed ``"cold "`` and ``"new in
        lists"`` (share of the warm rows' top-k slots given to new items),
        then ``"fit s"`` and ``"recommend s"``.
    """
    out = sys.stdout if out is None else out
    start = time.perf_counter()

    def log(msg):
        print(msg, file=out, flush=True)

    models = resolve_models(args)
    cold_share = _cold_share(args, models)
    interactions, catalogue = _load(args, log)
    (X_train, y_train), (X_warm, y_warm), (X_cold, y_cold), held, n_items = _split(
        interactions, args, cold_share, log
    )
    k = args.k
    rows, results, curves, histories = [], {}, {}, {}
    for i, name in enumerate(models, 1):
        model = _make_model(
            name, random_state=args.random_state, quick=args.quick, catalogue=catalogue,
            columns=CONTENT_COLUMNS.get(args.data), epochs=getattr(args, "epochs", None),
            device=getattr(args, "device", "auto"), log=log,
        )
        log(f"{_bar(i - 1, len(models))} {name} ({type(model).__name__}): fitting ...")
        t0 = time.perf_counter()
        model.fit(X_train, y_train)
        fit_s = time.perf_counter() - t0
        res, curves[name], rec, rec_s = _scores(model, X_warm, y_warm, k, n_items)
        summary = f"NDCG@{k} warm {res[f'NDCG@{k}']:.4f}"
        if cold_share:
            cold, curves[f"{name} (cold)"], _, cold_s = _scores(model, X_cold, y_cold, k, n_items, "cold ")
            res.update(cold)
            res["new in lists"] = float(np.isin(rec, held).mean())
            rec_s += cold_s
            summary += f", cold {res[f'cold NDCG@{k}']:.4f}"
        res["fit s"], res["recommend s"] = fit_s, rec_s
        results[name] = res
        if name in NETWORKS:
            histories[name] = model.history_
            best = next((r["epoch"] for r in reversed(model.history_) if r.get("valid_ndcg_best")), None)
            summary += f"; {len(model.history_)} epochs" + (f", best {best}" if best else "")
        log(f"{_bar(i, len(models))} {name}: {summary} (fit {fit_s:.1f} s)")
        rows.append([name] + [_fmt(c, v) for c, v in res.items()])
    columns = ["model"] + list(next(iter(results.values())))
    table = _tables(rows, columns)
    elapsed = time.perf_counter() - start
    log("")
    log(table)
    notes = _notes(results, held, k)
    for note in notes:
        log(note)
    log(f"\nDone in {elapsed:.0f} s.")
    report = args.report
    if report is None and not args.quick and not getattr(args, "no_report", False):
        report = DEFAULT_REPORT
    if report and not getattr(args, "no_report", False):
        path = write_report(
            report, table, curves, args, len(X_train), len(X_warm),
            n_cold=0 if X_cold is None else len(X_cold), n_held=len(held),
            cold_share=cold_share, notes=notes,
            histories=histories, elapsed=elapsed,
        )
        log(f"Report written to {path}")
    return results


def _tables(rows, columns):
    """The warm table (metrics, new items in lists, times), then the cold one."""
    cold = [i for i, c in enumerate(columns) if c.startswith("cold ")]
    if not cold:
        return _format_table(rows, columns)
    warm = [i for i in range(len(columns)) if i not in cold]
    warm_table = _format_table([[r[i] for i in warm] for r in rows], [columns[i] for i in warm])
    cold_table = _format_table(
        [[r[0]] + [r[i] for i in cold] for r in rows],
        ["model"] + [columns[i][len("cold "):] for i in cold],
    )
    return (
        "Warm rows: each user's last item, an item seen in training\n" + warm_table
        + "\n\nCold rows: the target is a new item, never seen in training\n" + cold_table
    )


def _notes(results, held, k):
    """One-line readings of the cold rows (empty without them)."""
    if not len(held):
        return []
    ids = [n for n in results if n not in CONTENT_MODELS]
    content = [n for n in results if n in CONTENT_MODELS]
    notes = [""]
    if ids:
        zero = all(results[n][f"cold NDCG@{k}"] == 0.0 for n in ids)
        notes.append(
            f"Cold rows: the id-based models ({', '.join(ids)}) never saw the {len(held)} "
            "new items, so they cannot recommend them" + (" (NDCG 0)." if zero else ".")
        )
    if content:
        notes.append(f"The content models ({', '.join(content)}) rank them from the catalogue.")
    notes.append(f"'new in lists': share of the warm rows' top-{k} slots given to new items.")
    return notes


def _bar(done, total, width=20):
    filled = round(width * done / total)
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def _fmt(column, value):
    return f"{value:.2f}" if column.endswith(" s") else f"{value:.4f}"


def write_report(directory, table, curves, args, n_train, n_test, *, n_cold=0, n_held=0,
                 cold_share=0.0, notes=(), histories=None, elapsed=None):
    """Write ``report.md`` and its plots (when matplotlib is installed).

    Plots: ``ndcg_at_k.png`` (NDCG@k by model, warm rows and, with cold
    items, cold rows), ``warm_cold.png`` (NDCG@k of both, side by side) and
    ``training.png`` (the networks' epochs). Returns the path of
    ``report.md``.
    """
    import platform
    from pathlib import Path

    from . import __version__

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    protocol = (
        f"Leave-last-out: each user's last event is the warm test target ({n_test} warm "
        f"rows, {n_train} training rows)"
    )
    if n_cold:
        protocol += (
            f"; {n_held} items ({cold_share:.0%} "
            f"of the distinct targets) are held out as new items: the {n_cold} queries whose "
            "target is one of them are the cold rows, and they are removed from every "
            "training history"
        )
    lines = [
        f"# sklearn-recsys evaluation: {args.data}",
        "",
        protocol + ". Every item is ranked; the user's own items are excluded.",
        "",
        "```",
        table,
        "```",
        "",
        *[n for n in notes if n],
        "",
    ]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        lines.append("(Install matplotlib for the plots.)")
    else:
        lines += _plots(out, curves, args, histories or {}, plt)
    lines += [
        f"sklearn-recsys {__version__}, Python {platform.python_version()}, "
        f"{platform.machine()}, {platform.processor() or platform.system()}"
        + (f"; {elapsed:.0f} s in all." if elapsed is not None else "."),
    ]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _plots(out, curves, args, histories, plt):
    """Save the report's plots in ``out``; return the Markdown lines showing them."""
    import matplotlib.ticker

    names = [n for n in curves if not n.endswith(" (cold)")]
    cold = any(n.endswith(" (cold)") for n in curves)
    panels = [("warm rows", "")] + ([("cold rows, new items", " (cold)")] if cold else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
    for ax, (title, suffix) in zip(axes[0], panels):
        for j, name in enumerate(names):
            curve = curves[name + suffix]
            ax.plot(range(1, len(curve) + 1), curve, marker="o", ms=3, label=name, color=f"C{j}")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.set_xlabel("k (list length)")
        ax.set_ylabel("NDCG@k")
        ax.set_title(f"{title}: {args.data}")
        ax.grid(alpha=0.3)
    axes[0][0].legend()
    fig.tight_layout()
    fig.savefig(out / "ndcg_at_k.png", dpi=120)
    plt.close(fig)
    lines = ["![NDCG@k by model](ndcg_at_k.png)", ""]
    if cold:
        k = args.k
        fig, ax = plt.subplots(figsize=(7, 0.5 * len(names) + 1.5))
        pos = np.arange(len(names))
        warm = [curves[n][min(k, len(curves[n])) - 1] for n in names]
        new = [curves[n + " (cold)"][min(k, len(curves[n + " (cold)"])) - 1] for n in names]
        bars = ax.barh(pos - 0.2, warm, height=0.4, label="warm rows", color="C0")
        ax.bar_label(bars, fmt="%.3f", padding=3, fontsize=8)
        bars = ax.barh(pos + 0.2, new, height=0.4, label="cold rows (new items)", color="C3")
        ax.bar_label(bars, fmt="%.3f", padding=3, fontsize=8)
        ax.set_yticks(pos, names)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.2 * max(warm + new + [1e-3]))
        ax.set_xlabel(f"NDCG@{k}")
        ax.set_title("Only models that read item content recommend new items")
        ax.legend(loc="upper right")
        fig.tight_layout()
        fig.savefig(out / "warm_cold.png", dpi=120)
        plt.close(fig)
        lines += [f"![NDCG@{k}, warm and cold rows](warm_cold.png)", ""]
    if histories:
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
        for name, history in histories.items():
            epochs = history[:, "epoch"]
            left.plot(epochs, history[:, "train_loss"], marker="o", ms=3, label=name)
            right.plot(epochs, history[:, "valid_ndcg"], marker="o", ms=3, label=name)
        left.set_ylabel("training loss")
        right.set_ylabel("NDCG@10, last training item held out")
        for ax in (left, right):
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            ax.legend()
        fig.suptitle("Training of the networks (early stopping keeps the best epoch)")
        fig.tight_layout()
        fig.savefig(out / "training.png", dpi=120)
        plt.close(fig)
        lines += ["![Training of the networks](training.png)", ""]
    return lines


def _load_model(path):
    """A file of :func:`sklearn_recsys.io.save` (no code runs), else joblib (trusted files only)."""
    from . import io as safe_io

    if safe_io.is_safe_file(path):
        return safe_io.load(path)
    import joblib

    return joblib.load(path)


def recommend(args, out=None):
    """Load a saved pipeline and print the top-k items for one history.

    A file written by :func:`sklearn_recsys.io.save` (a zip with its
    manifest, recognised by its content) loads without running code; any
    other file is read with joblib, which runs code: only trusted files.
    A safe file of EASE or Popularity is ranked from its arrays with NumPy
    alone (:mod:`sklearn_recsys._fastpath`: the same lists, without
    importing scikit-learn); anything else loads the full way.
    """
    out = sys.stdout if out is None else out
    history = [int(v) if v.lstrip("-").isdigit() and args.int_ids else v for v in args.history]
    from ._fastpath import open_fast

    items = None
    fast = open_fast(args.model)
    if fast is not None:
        try:
            items = fast.recommend([history], k=args.k)[0][0]
        except (TypeError, ValueError):  # the full path reports the error
            items = None
    if items is None:
        items = _load_model(args.model).recommend([history], k=args.k)[0]
    for rank, item in enumerate(items, 1):
        print(f"{rank:>3}  {item}", file=out)
    return items


def _check_evaluate_args(args, parser):
    """Exit with a usage message on a bad option of ``evaluate``."""
    try:
        args.models = resolve_models(args)
    except ValueError as exc:
        parser.error(str(exc))
    for name, value in [("--k", args.k), ("--n-users", args.n_users), ("--epochs", args.epochs)]:
        if value is not None and value <= 0:
            parser.error(f"{name} must be a positive integer; got {value}")
    if args.cold_items is not None and not 0 <= args.cold_items < 1:
        parser.error(f"--cold-items must be a share in [0, 1); got {args.cold_items}")


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

    import pandas as pd

    writer = _Writer(args.output)  # a bad output extension fails before any work
    if not Path(args.model).is_file():
        raise InputError(f"Model file not found: {str(args.model)!r}.")
    users, queries = _histories(_read_table(args.input), args)
    model = _load_model(args.model)
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
    ev = sub.add_parser(
        "evaluate",
        help="train and compare models on warm and cold rows (default)",
        description="Train and compare recommenders with leave-last-out, on warm rows and "
        "on cold rows (new items). Default on the synthetic data: the whole chain (about "
        "50 s of CPU time with one torch thread; the networks use a GPU when there is "
        "one); --quick: the four baselines, seconds.",
    )
    ev.add_argument(
        "--data", default="synthetic",
        help="'synthetic' (default), a MovieLens variant (ml-100k, ml-latest-small, "
        "ml-1m-sas-trunc) or the path of a CSV/TSV/Parquet interaction log",
    )
    ev.add_argument("--data-home", default=None, help="folder holding the ml-* folders (default: $SKLEARN_RECSYS_DATA)")
    ev.add_argument(
        "--models", default=None,
        help=f"comma-separated, from {','.join(MODELS)}; default: the whole chain on the "
        f"synthetic data ({','.join(FULL_MODELS)}), the four baselines with --quick or on "
        "other data",
    )
    ev.add_argument("--k", type=int, default=10, help="list length (default 10)")
    ev.add_argument(
        "--n-users", type=int, default=None,
        help=f"synthetic data: number of users (default {SIZES['full']['n_users']}, "
        f"{SIZES['quick']['n_users']} with --quick)",
    )
    ev.add_argument(
        "--epochs", type=int, default=None,
        help=f"most training epochs of the networks, with early stopping "
        f"(default {SIZES['full']['epochs']}, {SIZES['quick']['epochs']} with --quick)",
    )
    ev.add_argument(
        "--cold-items", type=float, default=None, metavar="SHARE",
        help=f"share of the distinct target items held out as new items, scored as cold "
        f"rows (default {COLD_SHARE} when a content model runs, else 0)",
    )
    ev.add_argument("--device", default="auto", help="device of the networks: auto (a GPU when there is one), cpu, cuda")
    ev.add_argument("--max-len", type=int, default=None, help="keep only the last MAX_LEN items of each history")
    ev.add_argument("--user-col", default="user_id")
    ev.add_argument("--item-col", default="item_id")
    ev.add_argument("--time-col", default="timestamp", help="'none' when the file order is the time order")
    ev.add_argument("--random-state", type=int, default=0)
    ev.add_argument(
        "--quick", action="store_true",
        help="a smoke run in seconds: the four baselines on 300 synthetic users, no report "
        "unless --report",
    )
    ev.add_argument(
        "--report", default=None, metavar="DIR",
        help=f"write report.md and plots to DIR (default: {DEFAULT_REPORT}/ in the current "
        "folder, except with --quick)",
    )
    ev.add_argument("--no-report", action="store_true", help="write no report")
    rec = sub.add_parser(
        "recommend", help="recommend with a saved pipeline (sklearn_recsys.io.save or joblib)",
        description="Recommend with a saved model. A file written by sklearn_recsys.io.save "
        "loads without running code; a joblib/pickle file runs code when it loads: "
        "only use joblib files from a trusted source.",
    )
    rec.add_argument(
        "model", help="a fitted recommender or pipeline: a file of sklearn_recsys.io.save "
        "(safe), or a joblib file (trusted files only: unpickling runs code)")
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
    sc.add_argument(
        "model", help="a fitted recommender or pipeline: a file of sklearn_recsys.io.save "
        "(loads without running code) or a joblib file (runs code when loaded: only "
        "files you trust)",
    )
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
    _check_evaluate_args(args, parser)
    np.seterr(all="ignore")
    evaluate(args)
    return 0
