"""Benchmark of IntentRecommender against the baselines and a plain PyTorch loop.

Protocol (leave-one-out): per user, chronological; the last item is the test
target, the second-to-last the validation target, the rest is training.
``queries_from_log(log, n_last=2)`` gives per user the row ``s[:-2] -> s[-2]``
(training: ``fit`` reads the whole sequence ``s[:-1]``) and the row
``s[:-1] -> s[-1]`` (test). Every item is ranked, the user's own items are
excluded, NDCG@10 and HR@10 are averaged over users. Neural models stop
early on the built-in last-item holdout (``validation=1.0``: the last item of
every training sequence, i.e. ``s[-2]``), never on the test rows.

Sections
--------
ml100k
    Baselines and the three towers on MovieLens 100K (CPU).
loop
    Per-epoch time of ``IntentRecommender`` against a plain PyTorch
    SASRec-CE loop, same hyper-parameters, data, device and process, run in
    interleaved rounds; quality after the same number of epochs.
ml1m
    MovieLens 1M (SASRec preprocessing, truncated copy) on the CPU at
    ``max_len=50`` within a time budget; ``recommend`` for all 6,040 users.

Usage::

    python benchmarks/bench_intent.py --data-home ../shared/data \\
        --out docs/benchmarks/intent.rst

``--quick`` runs a smoke version (few epochs) in a minute or two.
"""

import argparse
import datetime
import os
import platform
import sys
import time

import numpy as np
import pandas as pd
import sklearn
import skorch
import torch
import torch.nn.functional as F
from skorch.callbacks import Callback
from torch import nn

from sklearn_recsys.baselines import EASE, ItemKNN, Popularity, Transition
from sklearn_recsys.datasets import load_movielens, queries_from_log
from sklearn_recsys.intent import (
    IntentRecommender,
    RankingEarlyStopping,
    TransformerTower,
)
from sklearn_recsys.intent._data import windows as _windows
from sklearn_recsys.metrics import hit_rate_at_k, ndcg_at_k

# The transformer's hyper-parameters, shared by the plain loop.
SASREC = dict(max_len=50, module__d_model=64, module__n_layers=2, module__n_heads=1,
              module__dropout=0.2, lr=3e-3, batch_size=128)

# Parameters chosen on the validation rows of ml-100k in
# docs/benchmarks/baselines.rst (reused as they are on ml-1m).
BASELINES = [
    ("Popularity", Popularity()),
    ("ItemKNN", ItemKNN(n_neighbors=1000, shrinkage=0.0)),
    ("EASE", EASE(l2=100.0)),
    ("Transition", Transition(order=3, decay=0.9, smoothing=100.0)),
]


def log(*args):
    print(*args, flush=True)


class TimeBudget(Callback):
    """Stop training once ``seconds`` have passed (skorch stops on KeyboardInterrupt)."""

    def __init__(self, seconds):
        self.seconds = seconds

    def on_train_begin(self, net, **kwargs):
        self.start_ = time.perf_counter()

    def on_epoch_end(self, net, **kwargs):
        if time.perf_counter() - self.start_ > self.seconds:
            raise KeyboardInterrupt


def split(variant, data_home):
    data = load_movielens(variant, data_home=data_home)
    X, y = queries_from_log(data.interactions, n_last=2)
    train, test = X.index % 2 == 0, X.index % 2 == 1
    assert (X["user_id"].to_numpy()[train] == X["user_id"].to_numpy()[test]).all()
    return X[train].reset_index(drop=True), y[train], X[test].reset_index(drop=True), y[test]


def evaluate(name, model, Xtr, ytr, Xte, yte):
    t = time.perf_counter()
    model.fit(Xtr, ytr)
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    rec = model.recommend(Xte, k=10)
    rec_s = time.perf_counter() - t
    row = {
        "model": name,
        "NDCG@10": ndcg_at_k(yte, rec, k=10),
        "HR@10": hit_rate_at_k(yte, rec, k=10),
        "epochs": len(model.history) if hasattr(model, "history_") else "",
        "best epoch": (int(np.argmax(model.history[:, "valid_ndcg"])) + 1
                       if hasattr(model, "history_") and "valid_ndcg" in model.history[-1] else ""),
        "fit s": fit_s,
        "recommend s": rec_s,
    }
    log(f"  {name}: NDCG@10={row['NDCG@10']:.4f} HR@10={row['HR@10']:.4f} "
        f"fit={fit_s:.1f}s epochs={row['epochs']}")
    return row


def intent(module="transformer", max_epochs=200, patience=10, budget=None, random_state=0,
           **params):
    callbacks = [RankingEarlyStopping(patience=patience)]
    if budget:
        callbacks.append(TimeBudget(budget))
    return IntentRecommender(
        module=module, max_epochs=max_epochs, validation=1.0, callbacks=callbacks,
        random_state=random_state, verbose=0, **{**SASREC, **params},
    )


# -- plain PyTorch SASRec ------------------------------------------------------


class PlainSASRec(nn.Module):
    """Minimal SASRec: learned positions, causal pre-LN encoder, tied output."""

    def __init__(self, n_items, max_len, d_model, n_layers, n_heads, dropout):
        super().__init__()
        self.items = nn.Embedding(n_items + 1, d_model, padding_idx=0)
        self.pos = nn.Embedding(max_len, d_model)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, d_model, dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)
        self.scale = d_model**0.5
        nn.init.normal_(self.items.weight, std=d_model**-0.5)
        nn.init.normal_(self.pos.weight, std=d_model**-0.5)

    def forward(self, x):
        length = x.shape[1]
        h = self.drop(self.items(x) * self.scale + self.pos.weight[-length:])
        causal = torch.triu(torch.ones(length, length, dtype=torch.bool, device=x.device), 1)
        # padding keys are masked; a padding query may see itself (no empty softmax)
        pad = (x == 0)[:, None, :] & ~torch.eye(length, dtype=torch.bool, device=x.device)
        mask = (causal | pad).repeat_interleave(self.encoder.layers[0].self_attn.num_heads, 0)
        return self.norm(self.encoder(h, mask=mask))

    def item_vectors(self):
        return self.items.weight[1:]


def training_windows(Xtr, ytr, classes, max_len):
    """The training data IntentRecommender builds (without holdout): each
    user's sequence history + target cut into windows of max_len + 1 items."""
    index = pd.Index(classes)
    seqs = [index.get_indexer(list(h) + [t]) + 1 for h, t in zip(Xtr["history"], ytr)]
    lengths = np.array([len(s) for s in seqs])
    which, start, stop = _windows(lengths, max_len)
    out = np.zeros((len(which), max_len + 1), dtype=np.int64)
    for r, (i, a, b) in enumerate(zip(which, start, stop)):
        out[r, max_len + 1 - (b - a):] = seqs[i][a:b]
    return out


def plain_epoch(model, opt, data, batch_size, device):
    model.train()
    perm = torch.randperm(len(data))
    for i in range(0, len(data), batch_size):
        seq = data[perm[i:i + batch_size]].to(device)
        x, y = seq[:, :-1], seq[:, 1:]
        keep = (x > 0) & (y > 0)
        h = model(x)
        loss = F.cross_entropy(h[keep] @ model.item_vectors().T, y[keep] - 1)
        opt.zero_grad()
        loss.backward()
        opt.step()


@torch.no_grad()
def plain_ndcg(model, Xte, yte, classes, max_len, device):
    model.eval()
    index = pd.Index(classes)
    rows = [index.get_indexer(list(h)) for h in Xte["history"]]
    x = np.zeros((len(rows), max_len), dtype=np.int64)
    for r, codes in enumerate(rows):
        tail = codes[-max_len:] + 1
        x[r, max_len - len(tail):] = tail
    scores = []
    for i in range(0, len(x), 512):
        h = model(torch.from_numpy(x[i:i + 512]).to(device))[:, -1]
        scores.append(h @ model.item_vectors().T)
    scores = torch.cat(scores).cpu()
    for r, codes in enumerate(rows):
        scores[r, codes] = float("-inf")
    top = classes[torch.topk(scores, 10).indices.numpy()]
    return ndcg_at_k(yte, top, k=10)


def loop_section(Xtr, ytr, Xte, yte, epochs, rounds, device):
    """Interleaved rounds: IntentRecommender (warm start) and two plain loops."""
    per_round = max(1, epochs // rounds)
    torch.manual_seed(0)
    # no holdout: the skorch epoch is training only, like the plain loops
    rec = IntentRecommender(max_epochs=per_round, warm_start=True, verbose=0,
                            device=device, **SASREC)
    rec.fit(Xtr, ytr)  # round 1 builds the vocabulary
    classes = rec.classes_
    L = SASREC["max_len"]
    data = torch.from_numpy(training_windows(Xtr, ytr, classes, L))
    kw = dict(max_len=L, d_model=SASREC["module__d_model"], n_layers=SASREC["module__n_layers"],
              n_heads=SASREC["module__n_heads"], dropout=SASREC["module__dropout"])
    plains = {
        "plain loop, package tower": TransformerTower(len(classes), **kw).to(device),
        "plain loop, nn.TransformerEncoder": PlainSASRec(len(classes), **kw).to(device),
    }
    opts = {k: torch.optim.Adam(m.parameters(), lr=SASREC["lr"]) for k, m in plains.items()}
    times = {k: [] for k in plains}
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for r in range(rounds):
        if r:
            rec.fit(Xtr, ytr)
        for name, model in plains.items():
            for _ in range(per_round):
                sync()
                t = time.perf_counter()
                plain_epoch(model, opts[name], data, SASREC["batch_size"], device)
                sync()
                times[name].append(time.perf_counter() - t)
        log(f"  round {r + 1}/{rounds} done")
    dur = np.array(rec.history[:, "dur"])
    rows = [{
        "loop": "IntentRecommender (skorch)",
        "median epoch s": float(np.median(dur)),
        "NDCG@10": ndcg_at_k(yte, rec.recommend(Xte, k=10), k=10),
    }]
    for name, model in plains.items():
        rows.append({"loop": name, "median epoch s": float(np.median(times[name])),
                     "NDCG@10": plain_ndcg(model, Xte, yte, classes, L, device)})
    base = rows[0]["median epoch s"]
    for row in rows:
        row["skorch / this"] = base / row["median epoch s"]
        log(f"  {row['loop']}: {row['median epoch s']:.3f} s/epoch, NDCG@10={row['NDCG@10']:.4f}, "
            f"skorch/this={row['skorch / this']:.3f}")
    return rows, len(dur)


def _commit():
    """The checkout's commit (short), ``+ local changes`` when the package or scripts differ."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        def git(*a):
            return subprocess.run(["git", "-C", root, *a], capture_output=True, text=True,
                                  check=True).stdout.strip()

        sha = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", "sklearn_recsys",
                    "benchmarks")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return sha + (" + local changes" if dirty else "")


def machine(args):
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return [
        ("date", datetime.datetime.now().strftime("%Y-%m-%d %H:%M")),
        ("commit", _commit()),
        ("CPU", cpu),
        ("cores", f"{os.cpu_count()} visible, torch threads {torch.get_num_threads()}"),
        ("GPU", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"),
        ("load average at start", " ".join(f"{v:.2f}" for v in os.getloadavg())),
        ("versions", f"python {platform.python_version()}, torch {torch.__version__}, "
                     f"scikit-learn {sklearn.__version__}, skorch {skorch.__version__}, "
                     f"numpy {np.__version__}, pandas {pd.__version__}"),
        ("command", (f"PYTHONPATH={os.environ['PYTHONPATH']} " if os.environ.get("PYTHONPATH") else "")
         + "python " + " ".join(sys.argv)),
    ]


def _load():
    return os.getloadavg()[0]


def _load_note(results, key):
    start, end = results["load"][key]
    return (f"1-minute load average {start:.2f} at the start of this section, {end:.2f} at "
            "its end (other jobs shared the machine when it is above ~0.5; with 2 torch "
            "threads on 2 busy cores, wall times grow several-fold).")


def rst_table(rows):
    cols = list(rows[0])
    cells = [[c for c in cols]] + [[_fmt(r[c], c) for c in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    line = "  ".join("=" * w for w in widths)
    out = [line, "  ".join(c.ljust(w) for c, w in zip(cells[0], widths)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells[1:]]
    return "\n".join(out + [line])


def _fmt(v, column):
    if isinstance(v, float):
        return "n/a" if np.isnan(v) else (f"{v:.4f}" if "@" in column else f"{v:.2f}")
    return str(v)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-home", default=os.environ.get("SKLEARN_RECSYS_DATA", "../shared/data"))
    p.add_argument("--sections", default="ml100k,loop,ml1m")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--ml1m-budget", type=float, default=600, help="seconds of training on ml-1m")
    p.add_argument("--loop-threads", default="2,1", help="torch thread counts of the loop section")
    p.add_argument("--seeds", type=int, default=3, help="random states per tower on ml-100k")
    p.add_argument("--quick", action="store_true", help="a smoke run: few epochs")
    p.add_argument("--out", default=None, help="write the results as reStructuredText here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    sections = args.sections.split(",")
    info = machine(args)
    for k, v in info:
        log(f"{k}: {v}")
    results = {}
    load = results["load"] = {}
    epochs = 3 if args.quick else 60
    if "ml100k" in sections or "loop" in sections:
        data100k = split("100k", args.data_home)
    if "ml100k" in sections:
        log("ml-100k")
        load["ml100k"] = [_load()]
        rows = [evaluate(n, m, *data100k) for n, m in BASELINES]
        seeds = (0,) if args.quick else tuple(range(args.seeds))
        means = {}
        for name, module, params in [
            ("IntentRecommender transformer", "transformer", {}),
            ("IntentRecommender GRU", "gru", {"module__n_layers": 1}),
            ("IntentRecommender LSTM", "lstm", {"module__n_layers": 1}),
        ]:
            runs = [evaluate(f"{name}, seed {seed}",
                             intent(module, max_epochs=epochs, device=args.device,
                                    random_state=seed, **params), *data100k)
                    for seed in seeds]
            rows += runs
            means[name] = mean = {
                "model": f"{name}, mean of {len(runs)} seeds",
                "NDCG@10": float(np.mean([r["NDCG@10"] for r in runs])),
                "HR@10": float(np.mean([r["HR@10"] for r in runs])),
                "epochs": "", "best epoch": "",
                "fit s": float(np.mean([r["fit s"] for r in runs])),
                "recommend s": float(np.mean([r["recommend s"] for r in runs])),
            }
            rows.append(mean)
            log(f"  {mean['model']}: NDCG@10={mean['NDCG@10']:.4f} "
                f"(std {np.std([r['NDCG@10'] for r in runs]):.4f}), fit {mean['fit s']:.1f}s")
        ref = means["IntentRecommender transformer"]["NDCG@10"]
        results["ml100k_ratios"] = {n: m["NDCG@10"] / ref for n, m in means.items()}
        results["ml100k"] = rows
        load["ml100k"].append(_load())
    if "loop" in sections:
        log("plain loop vs skorch (ml-100k)")
        load["loop"] = [_load()]
        threads = torch.get_num_threads()
        results["loop"] = {}
        for n_threads in [int(t) for t in args.loop_threads.split(",")]:
            torch.set_num_threads(n_threads)
            log(f" torch threads: {n_threads}")
            results["loop"][n_threads] = loop_section(
                *data100k, epochs=2 if args.quick else 15, rounds=2 if args.quick else 3,
                device=args.device)
        torch.set_num_threads(threads)
        load["loop"].append(_load())
    if "ml1m" in sections:
        log("ml-1m-sas-trunc")
        load["ml1m"] = [_load()]
        data1m = split("1m-sas-trunc", args.data_home)
        rows = [evaluate(n, m, *data1m) for n, m in BASELINES if n != "ItemKNN"]
        model = intent(max_epochs=3 if args.quick else 200, patience=3,
                       budget=30 if args.quick else args.ml1m_budget, device=args.device)
        rows.append(evaluate("IntentRecommender transformer", model, *data1m))
        Xte = data1m[2]
        timings = {}
        threads = torch.get_num_threads()
        # a second pass on one thread: immune to the stalls of 2 threads on busy cores
        for n_threads in dict.fromkeys((threads, 1)):
            torch.set_num_threads(n_threads)
            timings[n_threads] = []
            for _ in range(3):
                t = time.perf_counter()
                model.recommend(Xte, k=10, exclude_seen=True)
                timings[n_threads].append(time.perf_counter() - t)
            log(f"  recommend(k=10) for {len(Xte)} users, {n_threads} thread(s): "
                f"best {min(timings[n_threads]):.2f}s of {timings[n_threads]}")
        torch.set_num_threads(threads)
        results["ml1m"] = rows
        load["ml1m"].append(_load())
        results["ml1m_budget"] = 30 if args.quick else args.ml1m_budget
        results["ml1m_recommend"] = (len(Xte), timings)
    info.append(("load average at end", " ".join(f"{v:.2f}" for v in os.getloadavg())))
    if args.out:
        write_rst(args.out, info, results)
    return results


def write_rst(path, info, results):
    parts = [
        ".. Generated by benchmarks/bench_intent.py; edit the script, not this file.",
        "",
        "IntentRecommender benchmark",
        "===========================",
        "",
        __doc__.split("\n\n", 1)[1].split("Usage::")[0].strip(),
        "",
        "Machine",
        "-------",
        "",
    ]
    parts += [f"* **{k}**: ``{v}``" if k == "command" else f"* **{k}**: {v}" for k, v in info]
    if "ml100k" in results:
        parts += ["", "MovieLens 100K (CPU)", "--------------------", "",
                  "Transformer: " + ", ".join(f"{k}={v}" for k, v in SASREC.items())
                  + "; GRU/LSTM: the same with one layer. Early stopping on the holdout "
                  "(patience 10, at most 60 epochs), best epoch restored. Baselines with the parameters chosen "
                  "in baselines.rst.", "", rst_table(results["ml100k"]), "",
                  "NDCG@10 of each tower relative to the transformer (means over seeds): "
                  + ", ".join(f"{n.split()[-1]} {r:.2f}x" for n, r in results["ml100k_ratios"].items())
                  + ".", "", _load_note(results, "ml100k")]
    if "loop" in results:
        n_epochs = next(iter(results["loop"].values()))[1]
        parts += ["", "skorch wrapper against a plain PyTorch loop (ml-100k, same process)",
                  "-------------------------------------------------------------------", "",
                  f"{n_epochs} epochs each, in interleaved rounds, the same training windows "
                  "(no holdout), hyper-parameters and device; no early stopping. "
                  "\"skorch / this\" is the per-epoch time of IntentRecommender divided by "
                  "that of the loop (> 1: the plain loop is faster). \"plain loop, package "
                  "tower\" runs the very network IntentRecommender builds, so its ratio is the "
                  "cost of the wrapper; \"nn.TransformerEncoder\" is a SASRec written with "
                  "PyTorch's own (fused) layers. Run with 2 torch threads and again with 1: on "
                  "busy cores, 2 threads stall at every parallel operator, which distorts "
                  "the comparison between implementations with different operator counts."]
        for n_threads, (rows, _) in results["loop"].items():
            parts += ["", f"{n_threads} torch thread(s):", "", rst_table(rows)]
        parts += ["", _load_note(results, "loop")]
    if "ml1m" in results:
        n, timings = results["ml1m_recommend"]
        parts += ["", "MovieLens 1M, SASRec preprocessing, truncated copy (CPU)",
                  "--------------------------------------------------------", "",
                  "Transformer at max_len=50 (not the GPU setting of max_len=200), 64 dims, "
                  "2 layers, 1 head, full softmax, lr 3e-3, early stopping (patience 3) or "
                  f"a training budget of {results['ml1m_budget']:.0f} s, whichever comes "
                  "first (the budget is checked after each epoch). The GPU setting "
                  "(max_len=200, target NDCG@10 >= 0.180) is not measured here: no GPU.", "",
                  rst_table(results["ml1m"]), "",
                  f"``recommend(k=10, exclude_seen=True)`` for all {n} users, best of 3: "
                  + "; ".join(f"**{min(t):.2f} s** with {k} torch thread(s) ("
                              + ", ".join(f"{v:.2f}" for v in t) + ")"
                              for k, t in timings.items()) + ".", "", _load_note(results, "ml1m")]
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
