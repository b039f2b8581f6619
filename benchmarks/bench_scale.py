"""Scale: time and peak memory over catalogue and log sizes, a new code path against today's.

A synthetic log (seeded, vectorised NumPy): ``events / events_per_user``
users with ``events_per_user`` events each (10 by default: 1M events are
100,000 users, 10M events 1,000,000 users) over ``items`` items. Item
popularity is Zipf (exponent 1.05 over a random ranking of the ids); with
probability 0.3 an event follows its predecessor's popularity rank by 1 to
3 places instead of being drawn afresh, a little sequential structure.
Timestamps increase within each user and the rows come sorted by user then
time, the canonical form ``load_interactions`` returns. With a Zipf catalogue
the log does not touch every item: the "items in log" column says how many
it does; the intent model gets the whole catalogue (``items=``), so it
scores ``items`` items, Popularity only those of the log.

Steps, each in its own Python process (times with ``time.perf_counter``,
peak memory the process's maximum resident set from ``os.wait4``, the log,
the queries and the imported libraries included):

* ``queries``: ``queries_from_log(log, n_last=1)``: one query per user
  (history = every event but the last, target = the last); the other steps
  build the same ``X, y`` untimed first.
* ``popularity``: ``Popularity().fit(X, y)``, then ``recommend`` for 10,000
  users (a seeded sample of the rows of ``X``), ``k=10``.
* ``intent_epoch``: ``IntentRecommender(loss="sampled_softmax",
  n_negatives=1024, max_len=50, max_epochs=1, batch_size=128,
  device="cpu", random_state=0)`` fitted on ``X, y``: "epoch" is skorch's
  ``history_[-1]["dur"]`` (the training pass), "fit" the whole call (set-up
  included). The fitted model is pickled for the next two steps.
* ``intent_recommend``: exact ``recommend`` for the 10,000 users, ``k=10``,
  of the pickled model (unpickling untimed); when the epoch step did not
  finish (time-out), a model built with ``max_epochs=0`` (untrained weights:
  the exact scoring costs the same), said in the notes.
* ``ann``: when the code path has ``sklearn_recsys.retrieval`` (else "not
  available"): ``ApproximateRecommender(FrozenEstimator(model),
  n_jobs=threads)`` over the pickled model, default index settings (the
  first installed backend; faiss: IVF, ``n_probe=48``): the index build
  time, ``recommend`` for the 10,000 users and its recall@10 against the
  exact lists of the same model.

Both code paths run in the same invocation, step by step, alternating
(``--repeats`` runs of each, medians): "new" is a checkout (``--new``, by
default the one holding this script) and "old" a git revision (``--ref``, by
default ``95f3fd5``) checked out in a temporary ``git worktree``, each
imported by putting its root first on ``PYTHONPATH``. A step process that
runs past its time-out (``--old-timeout``, ``--new-timeout``: the whole
process, start-up, log and queries included) is killed: the part it was in
is reported as ``> seconds spent in it``, a lower bound (of the old/new
ratio too), parts it never reached as ``-``, its peak memory as ``>=``.
``--old-users`` times the old recommend steps on fewer users and scales the
time linearly to 10,000 (marked "extrapolated").

Run ``python benchmarks/bench_scale.py [--quick]``; it prints a table and
writes ``docs/benchmarks/scale.rst``.
"""

import argparse
import importlib.util
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("queries", "popularity", "intent_epoch", "intent_recommend", "ann")
ZIPF = 1.05
FOLLOW = 0.3
SEED = 0
INTENT = dict(loss="sampled_softmax", n_negatives=1024, max_len=50, max_epochs=1, batch_size=128,
              device="cpu", random_state=0, verbose=0)


# -- the synthetic log -------------------------------------------------------
def make_log(n_items, n_events, events_per_user=10, zipf=ZIPF, follow=FOLLOW, seed=SEED):
    """``user_id, item_id, timestamp`` int64 arrays, sorted by user then time."""
    rng = np.random.default_rng(seed)
    n_users = n_events // events_per_user
    item_at_rank = rng.permutation(n_items).astype(np.int64)
    cdf = np.cumsum(np.arange(1, n_items + 1, dtype=np.float64) ** -zipf)
    cdf /= cdf[-1]
    ranks = np.empty((n_users, events_per_user), dtype=np.int64)
    ranks[:, 0] = np.searchsorted(cdf, rng.random(n_users), side="right")
    for t in range(1, events_per_user):
        fresh = np.searchsorted(cdf, rng.random(n_users), side="right")
        step = (ranks[:, t - 1] + rng.integers(1, 4, n_users)) % n_items
        ranks[:, t] = np.where(rng.random(n_users) < follow, step, fresh)
    np.minimum(ranks, n_items - 1, out=ranks)
    start = rng.integers(0, 10**8, n_users)[:, None]
    times = start + np.cumsum(rng.integers(1, 3600, (n_users, events_per_user)), axis=1)
    users = np.repeat(np.arange(n_users, dtype=np.int64), events_per_user)
    return {"user_id": users, "item_id": item_at_rank[ranks].ravel(), "timestamp": times.ravel()}


# -- one step, in a child process --------------------------------------------
def _ann_index(model, X, threads):
    """``sklearn_recsys.retrieval.ApproximateRecommender`` over the fitted
    ``model`` (default index settings: the first installed backend, faiss
    IVF with ``n_probe=48``), or None when the package has no retrieval."""
    try:
        from sklearn_recsys.retrieval import ApproximateRecommender
    except ImportError:
        return None
    from sklearn.frozen import FrozenEstimator

    # a frozen estimator's fit does nothing: X, y are not used
    return ApproximateRecommender(FrozenEstimator(model), n_jobs=threads).fit(X, model.classes_[:1].repeat(len(X)))


class _Timer:
    """Times the measured parts of a step into ``out``; each start and end is
    also printed (``START key monotonic-time``, ``TIME key seconds``), so
    that the parent can bound a part that a time-out cut short."""

    def __init__(self, out):
        self.out = out

    def start(self, key):
        print(f"START {key} {time.monotonic()!r}", flush=True)
        return time.perf_counter()

    def stop(self, key, started=None, seconds=None):
        self.out[key] = time.perf_counter() - started if seconds is None else float(seconds)
        print(f"TIME {key} {self.out[key]!r}", flush=True)


def _epoch_marks(timer):
    """A skorch callback printing the start and the duration of each epoch."""
    from skorch.callbacks import Callback

    class EpochMarks(Callback):
        def on_epoch_begin(self, net, **kwargs):
            timer.start("epoch_s")

        def on_epoch_end(self, net, **kwargs):
            timer.stop("epoch_s", seconds=net.history[-1]["dur"])

    return EpochMarks()


def child(args):
    """Run one step with the importable package; print ``RESULT {json}``."""
    import pandas as pd
    import torch

    torch.set_num_threads(args.threads)
    import sklearn_recsys
    from sklearn_recsys.datasets import queries_from_log

    out = {"package": str(Path(sklearn_recsys.__file__).resolve().parents[1])}
    if args.step == "ann" and importlib.util.find_spec("sklearn_recsys.retrieval") is None:
        return {**out, "ann": "not available"}
    timer = _Timer(out)
    with np.load(args.log) as f:
        log = pd.DataFrame({c: f[c] for c in ("user_id", "item_id", "timestamp")})
    n_items = int(args.items)
    started = timer.start("queries_s")
    X, y = queries_from_log(log, n_last=1)
    timer.stop("queries_s", started)
    out["n_queries"] = len(X)
    if args.step == "queries":
        return out
    rows = np.sort(np.random.default_rng(SEED).choice(len(X), min(args.users, len(X)), replace=False))
    Xq = X.iloc[rows].reset_index(drop=True)
    out["n_users"] = len(Xq)
    model_path = Path(args.work) / "intent.pkl"

    if args.step == "popularity":
        from sklearn_recsys.baselines import Popularity

        started = timer.start("fit_s")
        model = Popularity().fit(X, y)
        timer.stop("fit_s", started)
        started = timer.start("recommend_s")
        model.recommend(Xq, k=10)
        timer.stop("recommend_s", started)
        out["n_classes"] = len(model.classes_)
        return out

    from sklearn_recsys.intent import IntentRecommender

    catalogue = np.arange(n_items, dtype=np.int64)
    if args.step == "intent_epoch":
        model = IntentRecommender(**INTENT, items=catalogue, callbacks=[_epoch_marks(timer)])
        started = timer.start("fit_s")
        model.fit(X, y)
        timer.stop("fit_s", started)
        out["train_loss"] = float(model.history_[-1]["train_loss"])
        out["n_classes"] = len(model.classes_)
        del X, y, log
        # the marks are no part of the model (and their class is not picklable)
        model.callbacks = None
        model.callbacks_ = [(name, cb) for name, cb in model.callbacks_ if name != "EpochMarks"]
        part = model_path.with_suffix(".part")  # a killed child leaves no half-written model
        with open(part, "wb") as f:
            pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
        part.replace(model_path)
        return out

    del log
    if model_path.exists():
        with open(model_path, "rb") as f:
            model = pickle.load(f)
        out["model"] = "trained"
    else:
        model = IntentRecommender(**{**INTENT, "max_epochs": 0}, items=catalogue).fit(X, y)
        out["model"] = "untrained"
    del X, y
    started = timer.start("recommend_s")
    exact = model.recommend(Xq, k=10)
    timer.stop("recommend_s", started)
    if args.step == "intent_recommend":
        return out
    # ann
    started = timer.start("ann_build_s")
    try:
        ann = _ann_index(model, Xq, args.threads)
    except Exception as exc:  # noqa: BLE001 - e.g. no index library installed: reported, not fatal
        out["ann"] = f"error: {type(exc).__name__}: {exc}"[:200]
        return out
    if ann is None:
        out["ann"] = "not available"
        return out
    timer.stop("ann_build_s", started)
    out["ann_backend"] = ann.backend_
    started = timer.start("ann_s")
    approx = ann.recommend(Xq, k=10)
    timer.stop("ann_s", started)
    out["recall"] = float(np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approx.tolist(), exact.tolist())]))
    out["ann"] = "ok"
    return out


# -- the driver --------------------------------------------------------------
def run_step(tree, step, items, log, users, work, threads, timeout):
    """Run ``step`` with the package of ``tree`` in a child process.

    Returns the child's result dict plus ``peak_mb`` (maximum resident set,
    from ``wait4``) and ``wall_s``; ``timeout: True`` when killed.
    """
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", step, "--log", str(log),
           "--items", str(items), "--users", str(users), "--work", str(work), "--threads", str(threads)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=tempfile.gettempdir(), stdout=out, stderr=err)
        killed = False
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if timeout is not None and time.perf_counter() - start > timeout:
                    proc.kill()
                    killed_at = time.monotonic()
                    killed = True
                    pid, status, usage = os.wait4(proc.pid, 0)
                    break
                time.sleep(0.2)
        except BaseException:  # interrupted: leave no step running
            proc.kill()
            os.wait4(proc.pid, 0)
            proc.returncode = -9
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    result = {"peak_mb": usage.ru_maxrss / 1024, "wall_s": wall}
    if killed:
        # the parts that ended, and a lower bound for the one cut short
        started, lower = {}, {}
        for line in stdout.splitlines():
            tag, _, rest = line.partition(" ")
            if tag == "START":
                key, t = rest.split()
                started[key] = float(t)
            elif tag == "TIME":
                key, seconds = rest.split()
                result[key] = float(seconds)
                started.pop(key, None)
        for key, t in started.items():
            lower[key] = killed_at - t
        return {**result, "timeout": True, "lower": lower}
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {**result, "error": (stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:200]}
    return {**result, **json.loads(lines[-1][len("RESULT "):])}


def merge(runs):
    """One result from repeated runs of a step: median times, largest peak;
    a time-out or an error in any run stands for all."""
    for r in runs:
        if r.get("timeout") or "error" in r:
            return r
    out = dict(runs[-1])
    for key in out:
        if key.endswith("_s"):
            out[key] = float(np.median([r[key] for r in runs]))
    out["peak_mb"] = max(r["peak_mb"] for r in runs)
    return out


def _value(r, key, scale=1.0):
    """``(seconds, is a lower bound)`` of ``key`` in a result, or None."""
    if r is None:
        return None
    if key in r:
        return r[key] * scale, False
    if key in r.get("lower", {}):
        return r["lower"][key] * scale, True
    return None


def _fmt(v):
    return f"{v:.2f}" if v < 100 else f"{v:.0f}"


def _secs(r, key, scale=1.0):
    v = _value(r, key, scale)
    if v is None:
        return "error" if r and "error" in r else "-"
    return ("> " if v[1] else "") + _fmt(v[0])


def _ratio(new, old, key, old_scale=1.0):
    n, o = _value(new, key), _value(old, key, old_scale)
    if n is None or o is None or n[1] or n[0] <= 0:
        return "-"
    return ("> " if o[1] else "") + f"{o[0] / n[0]:.1f}x"


def _peak(r, step):
    if r is None or (step == "ann" and r.get("ann") != "ok"):
        return ""
    return (">= " if r.get("timeout") else "") + f"{r['peak_mb']:.0f}"


METRICS = {  # step -> (metric label, result key, is a recommend time)
    "queries": [("queries_from_log", "queries_s", False)],
    "popularity": [("Popularity fit", "fit_s", False), ("Popularity recommend", "recommend_s", True)],
    "intent_epoch": [("intent epoch", "epoch_s", False), ("intent fit (1 epoch)", "fit_s", False)],
    "intent_recommend": [("intent recommend, exact", "recommend_s", True)],
    "ann": [("intent recommend, ANN", "ann_s", True), ("ANN index build", "ann_build_s", False)],
}


def rows_of(items, events, step, new, old, log_items):
    rows = []
    for i, (label, key, per_user) in enumerate(METRICS[step]):
        scale = 1.0
        if per_user and new and old and old.get("n_users", 0) < new.get("n_users", 0):
            scale = new["n_users"] / old["n_users"]  # --old-users: old time scaled linearly
        notes = []
        if scale != 1.0:
            notes.append(f"old extrapolated from {old['n_users']:,} users")
        for name, r in (("new", new), ("old", old)):
            if r is None:
                continue
            if "error" in r:
                notes.append(f"{name}: {r['error']}")
            if r.get("timeout"):
                notes.append(f"{name}: killed at the {r['limit']:.0f} s time-out")
            if r.get("model") == "untrained":
                notes.append(f"{name}: untrained model")
            if step == "ann" and i == 0 and r.get("ann") not in (None, "ok"):
                notes.append(f"{name}: {r['ann']}")
        if step == "ann" and i == 0 and new and "recall" in new:
            notes.append(f"new: {new['ann_backend']}, recall@10 vs exact {new['recall']:.3f}")
        if step == "ann" and i == 0 and old and "recall" in old:
            notes.append(f"old: {old['ann_backend']}, recall@10 vs exact {old['recall']:.3f}")
        rows.append({
            "items": f"{items:,}", "events": f"{events:,}", "items in log": f"{log_items:,}",
            "step": label, "new (s)": _secs(new, key), "old (s)": _secs(old, key, scale),
            "old / new": _ratio(new, old, key, scale),
            "peak MB new": _peak(new, step) if i == 0 else "",
            "peak MB old": _peak(old, step) if i == 0 else "",
            "notes": "; ".join(dict.fromkeys(notes)),
        })
    return rows


def _rev(tree):
    try:
        return subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
    except (subprocess.CalledProcessError, OSError):
        return "unknown"


def _dirty(tree):
    try:
        status = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "--", "sklearn_recsys"],
                                check=True, capture_output=True, text=True).stdout
    except (subprocess.CalledProcessError, OSError):
        return False
    return bool(status.strip())


TARGETS = """Targets and the full run
------------------------

The targets, 2-core CPU, 1 torch thread, the new code path measured in the
same run as today's (``--ref 95f3fd5``):

* 1M items, 1M events: ``Popularity.recommend`` for 10,000 users <= 1 s;
  sampled-softmax epoch of the intent model <= 60 s and >= 10x faster than
  today; exact recommend for 10,000 users <= 30 s; with the approximate
  index <= 2 s at recall@10 >= 0.95 against exact.
* 10M events over 1M items: queries, one epoch and recommend for 10,000
  users within 16 GB peak memory (the "peak MB new" column).

The full grid is the script without ``--quick`` (10k, 100k and 1M items x
1M and 10M events, every step, both code paths). Today's epoch is the long
part: about 2.6 s per batch of 128 sequences at 1M items on this machine,
so at 1M items (and at 100k items with 10M events) the old epochs stop at
``--old-timeout`` and are reported as lower bounds; with the default 900 s
the old path alone takes about 1.5 to 2.5 hours. Run it detached, one run
at a time on the machine (other jobs skew the times)::

    nohup python benchmarks/bench_scale.py --repeats 1 > scale.log 2>&1 &

``--items``, ``--events`` and ``--steps`` run a part of the grid (the page
is rewritten with what ran); ``--old-users 1000`` shortens the old
recommend steps (extrapolated, marked so); ``--out ''`` writes no page.""".splitlines()


def write_page(path, rows, args, command, new_rev, old_rev, infos):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_cold_start import page_tail, rst_table

    title = "Scale: catalogue and log size" + (" (quick run)" if args.quick else "")
    if args.title:
        title = f"{title}: {args.title}"
    intro = __doc__.split("\n\n", 1)[1].split("Run ``python")[0].rstrip().splitlines()
    lines = [title, "=" * len(title), "", *intro, "",
             f"This run: new = {new_rev}, old = {old_rev}; torch threads: {args.threads}; "
             f"Zipf exponent {args.zipf}; recommend for {args.users:,} users; "
             f"old time-out {args.old_timeout:.0f} s; repeats: {args.repeats} (medians); "
             f"load average (1 min) of the machine at the start and the end: "
             f"{args.load[0]:.1f}, {args.load[1]:.1f}.", ""]
    if args.same_code:
        lines += ["Both code paths hold the same package code in this run (``sklearn_recsys/``",
                  "does not differ from the old revision): the ratios show the run-to-run",
                  "noise of the machine.", ""]
    if args.quick:
        lines += ["A quick run (``--quick``: 10,000 items, 100,000 events, a smoke test of",
                  "the script), not the scale the targets below are set at.", ""]
    lines += [*(f"* {info}" for info in infos), "", rst_table(rows), "", *TARGETS, "",
              *page_tail(path, command)]
    path.write_text("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--events-per-user", type=int, default=10)
    parser.add_argument("--zipf", type=float, default=ZIPF, help="popularity exponent")
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    parser.add_argument("--users", type=int, default=10_000, help="users to recommend for")
    parser.add_argument("--old-users", type=int, default=None,
                        help="time the old recommend on this many users, extrapolated to --users")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs of each step and code path (new and old alternate); medians")
    parser.add_argument("--new", type=Path, default=ROOT, help="checkout of the new code path")
    parser.add_argument("--ref", default="95f3fd5", help="git revision of the old code path")
    parser.add_argument("--no-old", action="store_true", help="run the new code path only")
    parser.add_argument("--old-timeout", type=float, default=900.0)
    parser.add_argument("--new-timeout", type=float, default=3600.0)
    parser.add_argument("--quick", action="store_true", help="10k items, 100k events: a smoke run")
    parser.add_argument("--title", default="", help="added to the page title (several pages)")
    parser.add_argument("--out", type=lambda v: Path(v) if v else None,
                        default=ROOT / "docs" / "benchmarks" / "scale.rst",
                        help="results page to write; '' for none")
    parser.add_argument("--child", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--log", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.step, args.items = args.child, args.items[0]
        print("RESULT " + json.dumps(child(args)), flush=True)
        return 0
    if args.quick:
        args.items, args.events = [10_000], [100_000]
    # a terminated run still kills its step and removes the old worktree
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    command = "python benchmarks/bench_scale.py " + " ".join(argv if argv is not None else sys.argv[1:])
    old_users = args.old_users or args.users
    new_tree = args.new.resolve()
    new_rev = _rev(new_tree) + (" + uncommitted changes" if _dirty(new_tree) else "")
    rows, infos = [], []
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        tmp = Path(tmp)
        old_tree = None
        if not args.no_old:
            old_tree = tmp / "old"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old_tree), args.ref],
                           check=True, capture_output=True)
        old_rev = "-" if old_tree is None else f"{args.ref} ({_rev(old_tree)})"
        args.same_code = old_tree is not None and not _dirty(new_tree) and subprocess.run(
            ["git", "-C", str(new_tree), "diff", "--quiet", args.ref, "HEAD", "--", "sklearn_recsys"],
            capture_output=True).returncode == 0
        print(f"new: {new_tree} at {new_rev}; old: {old_rev}", flush=True)
        try:
            for events in args.events:
                for items in args.items:
                    start = time.perf_counter()
                    log = make_log(items, events, args.events_per_user, zipf=args.zipf)
                    gen = time.perf_counter() - start
                    log_items = len(np.unique(log["item_id"]))
                    log_path = tmp / "log.npz"
                    np.savez(log_path, **log)
                    del log
                    info = (f"{items:,} items, {events:,} events ({events // args.events_per_user:,} users x "
                            f"{args.events_per_user}): {log_items:,} distinct items in the log, "
                            f"generated in {gen:.1f} s")
                    infos.append(info)
                    print(info, flush=True)
                    work = {"new": tmp / "work_new", "old": tmp / "work_old"}
                    for w in work.values():
                        shutil.rmtree(w, ignore_errors=True)
                        w.mkdir()
                    paths = [(name, tree, limit, n_users) for name, tree, limit, n_users in (
                        ("new", new_tree, args.new_timeout, args.users),
                        ("old", old_tree, args.old_timeout, old_users)) if tree is not None]
                    for step in args.steps:
                        runs = {"new": [], "old": []}
                        for _ in range(args.repeats):  # the code paths alternate
                            for name, tree, limit, n_users in paths:
                                done = runs[name] and (runs[name][-1].get("timeout") or "error" in runs[name][-1])
                                if done or (step == "ann" and name == "old"
                                            and runs["new"][-1].get("ann") != "ok"):
                                    continue  # a time-out is not rerun; no ANN to compare with
                                r = run_step(tree, step, items, log_path, n_users, work[name],
                                             args.threads, limit)
                                if r.get("package") and Path(r["package"]) != Path(tree).resolve():
                                    raise SystemExit(f"{name} imported {r['package']}, not {tree}")
                                runs[name].append({**r, "limit": limit})
                        res = {name: merge(r) if r else None for name, r in runs.items()}
                        new_rows = rows_of(items, events, step, res["new"], res["old"], log_items)
                        for row in new_rows:
                            print("  ".join(f"{k}={v}" for k, v in row.items() if v), flush=True)
                        rows += new_rows
        finally:
            if old_tree is not None:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old_tree)],
                               capture_output=True)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_cold_start import rst_table

    print(rst_table(rows))
    args.load = (load, os.getloadavg()[0])
    print(f"load average (1 min) at the start and the end: {args.load[0]:.1f}, {args.load[1]:.1f}")
    if args.out:
        write_page(args.out, rows, args, command, new_rev, old_rev, infos)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
