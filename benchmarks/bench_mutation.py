"""Mutation testing of the core modules: how many planted one-token bugs the tests catch.

Each mutant changes one operator or constant of one module (a comparison
``<`` <-> ``<=``, ``>`` <-> ``>=``, ``==`` <-> ``!=``, ``in`` <-> ``not in``;
``+`` <-> ``-``, ``*`` <-> ``/``; an integer constant ``n -> n + 1`` with
``0 <-> 1``; ``True <-> False``; ``and`` <-> ``or``; ``not x -> x``;
``return x -> return None``; a slice bound ``b -> b + 1``). Docstrings,
strings, ``raise`` statements, warnings and logging calls are never mutated.

Mutants run one at a time in a temporary copy of the package (the working
tree is never touched), each against the fast subset of tests mapped to its
module (``pytest -x -q``, ``OMP_NUM_THREADS=1``, a per-mutant timeout, no
bytecode cache). A mutant is *killed* when the tests fail, *timeout* when they
run past the limit (counted as detected), *survived* when they pass. The
mutants of a module are a seeded sample (``--max-per-module``) of all its
mutation sites, so a run fits a small CPU budget.

Usage::

    python benchmarks/bench_mutation.py --max-per-module 15 --seed 0 \\
        --json mutation.json
    python benchmarks/bench_mutation.py --list            # every mutant id
    python benchmarks/bench_mutation.py --only metrics/_ranking.py:12 base.py:40 \\
        --json after.json
    python benchmarks/bench_mutation.py --page mutation.json [more runs] --after after.json

The ``--only`` ids are ``<module path under sklearn_recsys>:<site index>``
as printed by ``--list`` and in the page. ``--page`` writes
``docs/benchmarks/mutation.rst`` from a run's JSON: the score per module and
every survivor with its verdict from :data:`VERDICTS` (the test that now kills
it, confirmed by the ``--after`` re-run of the survivors, or why it is
equivalent). Site indices follow the source: they are only valid for the
commit the page names.
"""

import argparse
import ast
import copy
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "sklearn_recsys"

# module (path under sklearn_recsys/) -> the fast tests that exercise it
TESTS = {
    "base.py": ["tests/test_baselines.py", "tests/test_metrics.py", "tests/test_planted.py"],
    "metrics/_ranking.py": ["tests/test_metrics.py", "tests/test_planted.py"],
    "model_selection/_split.py": ["tests/test_model_selection.py", "tests/test_planted.py"],
    "model_selection/_cold.py": ["tests/test_model_selection.py"],
    "intent/_data.py": [
        "tests/test_planted.py",
        "tests/test_intent.py::test_each_tower_learns_the_successor",
        "tests/test_intent.py::test_every_position_is_a_target",
        "tests/test_intent.py::test_prefix_rows_of_a_user_give_one_sequence",
        "tests/test_intent.py::test_validation_records_ndcg_and_early_stopping_restores_best",
        "tests/test_intent.py::test_holdout_items_are_not_trained_on",
        "tests/test_intent.py::test_empty_histories_in_fit",
        "tests/test_intent_content.py",
    ],
    "intent/_losses.py": [
        "tests/test_planted.py",
        "tests/test_intent.py::test_other_losses_train",
        "tests/test_intent.py::test_loss_picks_one_criterion",
        "tests/test_intent.py::test_each_tower_learns_the_successor",
        "tests/test_scale.py",
    ],
}

# surviving mutant id -> (kind, line, mutation, text): kind "killed" with the test
# that now kills it, or "equivalent" with why no test can; the line and mutation
# are the ones the entry was written for, so a note
# left over from an older source (the ids shift) is refused rather than shown
VERDICTS = {
    # seed 0
    "base.py:10": ("killed", 76, "slice lower b -> b + 1",
                   "tests/test_planted.py::test_a_chunk_of_queries_keeps_its_frame_rows"),
    "base.py:77": ("killed", 266, "1 -> 0",
                   "tests/test_planted.py::test_unknown_history_items_are_dropped_row_by_row"),
    "base.py:98": ("killed", 313, "0 -> 1", "tests/test_planted.py::test_the_first_class_is_a_valid_candidate"),
    "base.py:103": ("killed", 333, "Is -> IsNot",
                    "tests/test_planted.py::test_per_row_candidates_and_exclude_are_applied"),
    "base.py:107": ("killed", 346, "And -> Or",
                    "tests/test_planted.py::test_per_row_candidates_and_exclude_are_applied"),
    "base.py:124": ("killed", 391, "IsNot -> Is",
                    "tests/test_planted.py::test_per_row_candidates_and_exclude_are_applied"),
    "metrics/_ranking.py:61": (
        "equivalent", 214, "True -> False",
        "``prefer_skip_nested_validation`` of ``mrr_at_k``'s ``validate_params``: False only "
        "re-validates the parameters of the validated functions it calls, with the same "
        "values; results and errors are the same"),
    "metrics/_ranking.py:79": ("killed", 311, "0 -> 1",
                               "tests/test_planted.py::test_coverage_of_a_one_item_catalogue"),
    "model_selection/_cold.py:2": ("killed", 35, "return x -> return None",
                                   "tests/test_model_selection.py::test_cold_item_split_cv_known_draws"),
    "model_selection/_cold.py:6": ("killed", 111, "1 -> 0",
                                   "tests/test_model_selection.py::test_cold_item_split_cv_known_draws"),
    "model_selection/_cold.py:9": ("killed", 164, "return x -> return None",
                                   "tests/test_model_selection.py::test_cold_item_split_cv_known_draws"),
    **{f"model_selection/_cold.py:{i}": (
        "killed", line, mutation,
        "tests/test_model_selection.py::test_cold_item_split_strips_the_held_out_item_from_every_history_form")
       for i, line, mutation in [(19, 214, "And -> Or"), (21, 215, "not x -> x"),
                                 (23, 216, "not x -> x"), (27, 224, "return x -> return None"),
                                 (28, 228, "return x -> return None")]},
    "intent/_losses.py:16": (
        "equivalent", 71, "256 -> 257",
        "the default ``n_negatives`` of the private ``_ItemLoss``: ``IntentRecommender`` "
        "always passes its own (``n_negatives='auto'``: 1024 or 256), so no public call "
        "reaches this default"),
    "intent/_losses.py:35": (
        "killed", 140, "Sub -> Add",
        "tests/test_planted.py::test_sampled_negatives_stay_in_the_catalogue_when_the_draw_rounds_up"),
    # seed 1
    "base.py:16": ("killed", 77, "slice upper b -> b + 1",
                   "tests/test_planted.py::test_a_chunk_of_queries_keeps_its_frame_rows"),
    "base.py:65": ("killed", 248, "And -> Or", "tests/test_planted.py::test_prefix_rows_are_dropped_within_a_user_only"),
    **{f"base.py:{i}": ("killed", line, mutation,
                          "tests/test_planted.py::test_per_row_candidates_and_exclude_are_applied")
       for i, line, mutation in [(115, 367, "0 -> 1"), (120, 379, "return x -> return None"),
                                 (126, 401, "And -> Or")]},
    "metrics/_ranking.py:3": ("killed", 43, "Eq -> NotEq",
                              "tests/test_planted.py::test_relevant_sets_as_an_object_array"),
    "metrics/_ranking.py:48": ("killed", 180, "10 -> 11",
                               "tests/test_planted.py::test_metrics_cut_at_the_documented_default_k_10"),
    "metrics/_ranking.py:62": ("killed", 243, "10 -> 11",
                               "tests/test_planted.py::test_metrics_cut_at_the_documented_default_k_10"),
    "metrics/_ranking.py:83": ("killed", 278, "1 -> 0", "tests/test_planted.py::test_coverage_of_a_one_item_catalogue"),
    "model_selection/_cold.py:0": ("killed", 29, "1 -> 0",
                                   "tests/test_model_selection.py::test_cold_item_split_defaults_and_string_ids"),
    "model_selection/_cold.py:14": ("killed", 194, "GtE -> Gt",
                                    "tests/test_model_selection.py::test_cold_item_split_cv_known_draws"),
    "model_selection/_cold.py:17": ("killed", 195, "not x -> x",
                                    "tests/test_model_selection.py::test_cold_item_split_cv_known_draws"),
    "model_selection/_cold.py:20": (
        "killed", 214, "0 -> 1",
        "tests/test_model_selection.py::test_cold_item_split_strips_the_held_out_item_from_every_history_form"),
    "model_selection/_cold.py:29": (
        "killed", 229, "return x -> return None",
        "tests/test_model_selection.py::test_cold_item_split_strips_the_held_out_item_from_every_history_form"),
    "model_selection/_cold.py:30": ("killed", 242, "False -> True",
                                    "tests/test_model_selection.py::test_cold_item_split_defaults_and_string_ids"),
    "model_selection/_cold.py:31": (
        "killed", 287, "not x -> x",
        "tests/test_model_selection.py::test_cold_item_split_strips_the_held_out_item_from_every_history_form"),
    "intent/_data.py:3": ("killed", 23, "0 -> 1",
                          "tests/test_planted.py::test_csr_of_sequences_known_layout"),
    "intent/_losses.py:14": ("killed", 61, "return x -> return None",
                             "tests/test_planted.py::test_custom_item_vectors_are_indexed_by_the_losses"),
    "intent/_losses.py:22": (
        "equivalent", 118, "256 -> 257",
        "the default ``n_negatives`` of the private ``SampledSoftmaxLoss``: "
        "``IntentRecommender`` always passes its own (1024 under ``n_negatives='auto'``)"),
    "intent/_losses.py:31": (
        "equivalent", 138, "Mult -> Div",
        "``u = rand * cdf[-1]`` with ``cdf[-1]`` the total of the normalised ``q``, 1 up to "
        "rounding: dividing draws the same codes (the clamp covers the rounding edge)"),
    **{f"intent/_losses.py:{i}": (
        "killed", line, mutation,
        "tests/test_planted.py::test_bce_draws_negatives_from_the_whole_catalogue")
       for i, line, mutation in [(48, 164, "0 -> 1"), (50, 165, "1 -> 0")]},
}

_CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
        ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
        ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_BIN = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
        ast.FloorDiv: ast.Mult}
_SKIP_CALLS = {"warn", "warning", "info", "debug", "error", "print", "sink", "exception"}


def _skipped(node):
    """Subtrees never mutated: raise statements, warnings/logging calls, asserts."""
    if isinstance(node, (ast.Raise, ast.Assert, ast.JoinedStr)):
        return True
    if isinstance(node, ast.Call):
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        return name in _SKIP_CALLS
    return False


def _sites(tree):
    """``[(node path, kind, description)]`` of every mutation site, in source order."""
    out = []

    def visit(node, path, in_annotation=False):
        if _skipped(node):
            return
        line = getattr(node, "lineno", None)
        if isinstance(node, ast.Compare):
            for j, op in enumerate(node.ops):
                if type(op) in _CMP:
                    out.append((path, ("cmp", j), line,
                                f"{type(op).__name__} -> {_CMP[type(op)].__name__}"))
        elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in _BIN:
            out.append((path, ("bin",), line,
                        f"{type(node.op).__name__} -> {_BIN[type(node.op)].__name__}"))
        elif isinstance(node, ast.BoolOp):
            out.append((path, ("bool",), line, "And -> Or" if isinstance(node.op, ast.And) else "Or -> And"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            out.append((path, ("not",), line, "not x -> x"))
        elif isinstance(node, ast.Constant) and not in_annotation:
            v = node.value
            if isinstance(v, bool):
                out.append((path, ("const",), line, f"{v} -> {not v}"))
            elif isinstance(v, int):
                new = {0: 1, 1: 0}.get(v, v + 1)
                out.append((path, ("const",), line, f"{v} -> {new}"))
        elif isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            out.append((path, ("return",), line, "return x -> return None"))
        elif isinstance(node, ast.Slice):
            for bound in ("lower", "upper"):
                b = getattr(node, bound)
                if b is not None and not isinstance(b, (ast.Constant, ast.UnaryOp)):
                    out.append((path, ("slice", bound), line, f"slice {bound} b -> b + 1"))
        for field, value in ast.iter_fields(node):
            ann = in_annotation or field in ("annotation", "returns")
            if isinstance(value, list):
                # a docstring: the first statement of a body, a bare string
                for k, child in enumerate(value):
                    if (field == "body" and k == 0 and isinstance(child, ast.Expr)
                            and isinstance(child.value, ast.Constant)):
                        continue
                    if isinstance(child, ast.AST):
                        visit(child, path + ((field, k),), ann)
            elif isinstance(value, ast.AST):
                visit(value, path + ((field, None),), ann)

    visit(tree, ())
    return out


def _get(tree, path):
    node = tree
    for field, k in path:
        node = getattr(node, field) if k is None else getattr(node, field)[k]
    return node


def _mutate(tree, site):
    """A mutated copy of ``tree`` (the original is untouched)."""
    path, kind = site[0], site[1]
    tree = copy.deepcopy(tree)
    node = _get(tree, path)
    if kind[0] == "cmp":
        node.ops[kind[1]] = _CMP[type(node.ops[kind[1]])]()
    elif kind[0] == "bin":
        node.op = _BIN[type(node.op)]()
    elif kind[0] == "bool":
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif kind[0] == "not":
        parent = _get(tree, path[:-1])
        field, k = path[-1]
        if k is None:
            setattr(parent, field, node.operand)
        else:
            getattr(parent, field)[k] = node.operand
    elif kind[0] == "const":
        v = node.value
        node.value = (not v) if isinstance(v, bool) else {0: 1, 1: 0}.get(v, v + 1)
    elif kind[0] == "return":
        node.value = ast.Constant(None)
    elif kind[0] == "slice":
        b = getattr(node, kind[1])
        setattr(node, kind[1], ast.BinOp(b, ast.Add(), ast.Constant(1)))
    return ast.fix_missing_locations(tree)


def all_mutants():
    """``{id: (module, site)}`` for every module of :data:`TESTS`."""
    out = {}
    for module in TESTS:
        tree = ast.parse((PKG / module).read_text())
        for i, site in enumerate(_sites(tree)):
            out[f"{module}:{i}"] = (module, tree, site)
    return out


def _run_tests(workdir, module, timeout):
    env = {**os.environ, "PYTHONPATH": str(workdir), "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    # -P: ``python -m`` would put the working directory (ROOT, the unmutated
    # package) ahead of PYTHONPATH on sys.path, and every mutant would survive
    cmd = [sys.executable, "-P", "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
           "-o", "addopts=", *TESTS[module]]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", ""
    tail = (proc.stdout + proc.stderr).strip().splitlines()
    return ("survived" if proc.returncode == 0 else "killed"), (tail[-1] if tail else "")


def git_commit():
    """The checkout's commit (short), ``+ local changes`` when the package or tests differ."""
    def git(*args):
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                              check=True).stdout.strip()

    try:
        sha = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", "sklearn_recsys",
                    "tests")
    except (OSError, subprocess.CalledProcessError):
        return os.environ.get("MUTATION_COMMIT", "unknown (not a git checkout)")
    return sha + (" + local changes" if dirty else "")


def _table(header, rows):
    """An RST simple table."""
    cols = list(zip(header, *rows))
    widths = [max(len(str(c)) for c in col) for col in cols]
    rule = "  ".join("=" * w for w in widths)
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return [rule, line(header), rule, *map(line, rows), rule]


def write_page(runs, afters=(), path=ROOT / "docs" / "benchmarks" / "mutation.rst"):
    """Write the results page from the runs' JSON and the re-runs of their survivors.

    A mutant drawn by several runs (seeds) counts once, with its first result.
    """
    metas = [run["meta"] for run in runs]
    meta = metas[0]
    seen, results = set(), []
    for run in runs:
        for r in run["results"]:
            if r["id"] not in seen:
                seen.add(r["id"])
                results.append(r)
    after = {r["id"]: r for a in afters for r in a["results"]}
    order = list(meta["totals"])
    survivors = sorted((r for r in results if r["status"] == "survived"),
                       key=lambda r: (order.index(r["module"]), int(r["id"].rsplit(":", 1)[1])))
    verdict = {}
    for r in survivors:
        if r["id"] not in VERDICTS:
            raise SystemExit(f"survivor {r['id']} (line {r['line']}, {r['mutation']}) has no "
                             "entry in VERDICTS: kill it with a test or explain it")
        kind, line, mutation, text = VERDICTS[r["id"]]
        if (line, mutation) != (r["line"], r["mutation"]):
            raise SystemExit(f"VERDICTS[{r['id']!r}] was written for line {line} ({mutation}); "
                             f"the run has line {r['line']} ({r['mutation']}): stale ids")
        if kind == "killed":
            status = after.get(r["id"], {}).get("status")
            if status not in ("killed", "timeout"):
                raise SystemExit(f"{r['id']} is said killed by {text} but the --after run "
                                 f"reports {status!r}")
            verdict[r["id"]] = f"killed by ``{text}`` (after)"
        else:
            verdict[r["id"]] = f"equivalent: {text}"
    rows = []
    for module, total in meta["totals"].items():
        rs = [r for r in results if r["module"] == module]
        if not rs:
            continue
        det = sum(r["status"] in ("killed", "timeout") for r in rs)
        surv = sum(r["status"] == "survived" for r in rs)
        fixed = sum(r["status"] == "survived" and VERDICTS[r["id"]][0] == "killed" for r in rs)
        equiv = surv - fixed
        rows.append((module, total, len(rs), det, surv, f"{det / len(rs):.2f}",
                     f"{(det + fixed) / len(rs):.2f}", equiv))
    n = sum(len([r for r in results if r["module"] == m]) for m in meta["totals"])
    det = sum(r["status"] in ("killed", "timeout") for r in results)
    fixed = sum(VERDICTS[r["id"]][0] == "killed" for r in survivors)
    rows.append(("all", sum(meta["totals"].values()), n, det, len(survivors),
                 f"{det / n:.2f}", f"{(det + fixed) / n:.2f}", len(survivors) - fixed))
    per_module = [r[2] for r in rows[:-1]]
    seeds = ", ".join(str(m["seed"]) for m in metas)
    out = [
        ".. _mutation:",
        "",
        "Mutation testing of the core modules",
        "====================================",
        "",
        "How many planted one-token bugs the test suite catches in the modules that",
        "every recommender relies on (issue 13, item 5): ``base.py``, the ranking",
        "metrics, the splitters and the intent model's data and loss code. Each mutant",
        "changes one operator or constant of one module (``<`` to ``<=``, ``+`` to",
        "``-``, ``0`` to ``1``, ``and`` to ``or``, ``return x`` to ``return None``, a",
        "slice bound ``b`` to ``b + 1``, ...) in a temporary copy of the package, and",
        "runs the fast tests mapped to that module (``TESTS`` in the script). A mutant",
        "is *killed* when a test fails, *survived* when they all pass (a timeout",
        f"counts as killed). The mutants are seeded samples of {meta['max_per_module']} per",
        f"module (seeds {seeds}; a mutant drawn twice counts once) out of all the",
        "module's mutation sites (column \"sites\"), so a score is an estimate with a",
        f"wide margin: one mutant is {100 / max(per_module):.0f} to "
        f"{100 / min(per_module):.0f} points of a module's score.",
        "",
        '"score before" is the share killed by the tests of the commit below;',
        '"score after" adds the survivors that a test added afterwards kills (each',
        "re-run with ``--only`` to confirm it); the rest are equivalent mutants: no",
        "test can tell them apart from the original, the table says why. The 0.00",
        "before of ``model_selection/_cold.py`` is the map's: its fast tests",
        "(``tests/test_model_selection.py``) had none for the cold splits, which the",
        "suite checks in slower files (``tests/test_properties.py``,",
        "``tests/test_content.py``, ``tests/test_intent_content.py``); the new",
        "known-answer tests are in the mapped file.",
        "",
        *_table(("module", "sites", "run", "killed", "survived", "score before",
                 "score after", "equivalent"), rows),
        "",
        "Surviving mutants",
        "-----------------",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 22 6 18 54",
        "",
        "   * - mutant",
        "     - line",
        "     - mutation",
        "     - verdict",
    ]
    for r in survivors:
        out += [f"   * - ``{r['id']}``", f"     - {r['line']}", f"     - {r['mutation']}",
                f"     - {verdict[r['id']]}"]
    if not survivors:
        out += ["   * - (none)", "     -", "     -", "     -"]
    out += [
        "",
        "Reproduce",
        "---------",
        "",
        ".. code-block:: console",
        "",
        *[f"   $ {m['command']}" for m in metas],
        "   $ python benchmarks/bench_mutation.py --only <the survivors' ids> --json after.json",
        "   $ python benchmarks/bench_mutation.py --page <the runs' JSON> --after after.json",
        "",
        "Machine",
        "-------",
        "",
        f"* machine: {meta['machine']}",
        f"* date: {', '.join(m['date'] for m in metas)}",
        f"* commit: {', '.join(sorted({m.get('commit', 'unknown') for m in metas}))} "
        "(the package and tests the mutants ran against)",
        f"* wall time: {' + '.join(str(m['wall_s']) for m in metas)} s, "
        f"{meta['timeout']:.0f} s limit per mutant",
    ]
    for a in afters:
        am = a["meta"]
        out.append(f"* survivors re-run: {am['date']}, commit {am.get('commit', '?')} "
                   f"(with the new tests), {am['wall_s']} s")
    path.write_text("\n".join(out) + "\n")
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--max-per-module", type=int, default=15)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per mutant")
    p.add_argument("--only", nargs="+", help="run only these mutant ids")
    p.add_argument("--list", action="store_true", help="print every mutant id and exit")
    p.add_argument("--json", type=Path, help="write the per-mutant results as JSON")
    p.add_argument("--page", type=Path, nargs="+", help="write docs/benchmarks/mutation.rst "
                   "from these runs' JSON and exit")
    p.add_argument("--after", type=Path, nargs="+", default=[],
                   help="with --page: the JSON of the survivors' re-runs")
    args = p.parse_args(argv)

    if args.page:
        runs = [json.loads(path.read_text()) for path in args.page]
        afters = [json.loads(path.read_text()) for path in args.after]
        print(write_page(runs, afters))
        return 0

    mutants = all_mutants()
    if args.list:
        for mid, (_module, _, site) in mutants.items():
            print(f"{mid}\tline {site[2]}\t{site[3]}")
        return 0
    if args.only:
        chosen = list(args.only)
    else:
        rng = random.Random(args.seed)
        chosen = []
        for module in TESTS:
            ids = [m for m in mutants if mutants[m][0] == module]
            chosen += sorted(rng.sample(ids, min(len(ids), args.max_per_module)),
                             key=lambda m: int(m.rsplit(":", 1)[1]))
    totals = {module: sum(1 for m in mutants.values() if m[0] == module) for module in TESTS}

    results = []
    commit = git_commit()  # before the run: files edited during it do not count
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        shutil.copytree(PKG, work / "sklearn_recsys",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        # the tests must import the copy, not the checkout (or an installed package)
        env = {**os.environ, "PYTHONPATH": str(work)}
        where = subprocess.run(
            [sys.executable, "-P", "-c", "import sklearn_recsys; print(sklearn_recsys.__file__)"],
            cwd=ROOT, env=env, capture_output=True, text=True).stdout.strip()
        if not where.startswith(str(work)):
            print(f"the tests would import {where!r}, not the mutated copy in {work}",
                  file=sys.stderr)
            return 2
        # the unmutated copy must pass, or every mutant would read as killed
        for module in sorted({mutants[m][0] for m in chosen}):
            status, tail = _run_tests(work, module, args.timeout * 3)
            if status != "survived":
                print(f"baseline tests of {module} fail unmutated: {tail}", file=sys.stderr)
                return 2
        for mid in chosen:
            module, tree, site = mutants[mid]
            target = work / "sklearn_recsys" / module
            original = target.read_text()
            target.write_text(ast.unparse(_mutate(tree, site)) + "\n")
            t0 = time.perf_counter()
            try:
                status, tail = _run_tests(work, module, args.timeout)
            finally:
                target.write_text(original)
            dt = time.perf_counter() - t0
            results.append(dict(id=mid, module=module, line=site[2], mutation=site[3],
                                status=status, seconds=round(dt, 1), tail=tail))
            print(f"{mid:32s} line {site[2]:4d}  {site[3]:28s} {status:9s} {dt:6.1f}s", flush=True)
    wall = time.perf_counter() - t_all

    print()
    for module in TESTS:
        rs = [r for r in results if r["module"] == module]
        if rs:
            k = sum(r["status"] == "killed" for r in rs)
            t = sum(r["status"] == "timeout" for r in rs)
            s = sum(r["status"] == "survived" for r in rs)
            print(f"{module:28s} sites {totals[module]:4d} run {len(rs):3d} killed {k:3d} "
                  f"timeout {t:2d} survived {s:3d} score {(k + t) / len(rs):.2f}")
    print(f"wall {wall:.0f} s")
    meta = dict(
        date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                f"Python {platform.python_version()}, {platform.system()}",
        command="python benchmarks/bench_mutation.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        wall_s=round(wall), seed=args.seed, max_per_module=args.max_per_module,
        timeout=args.timeout, totals=totals, commit=commit,
    )
    if args.json:
        args.json.write_text(json.dumps(dict(meta=meta, results=results), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
