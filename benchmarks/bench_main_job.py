"""The main job's run time and output: ``python -m sklearn_recsys`` and ``--quick``.

Runs each command as a user would, in a subprocess with one torch thread
(``OMP_NUM_THREADS=1``), and records its wall time, the CPU time it used
(user + system, from ``getrusage`` of the child) and the load average of the
machine before and after (this machine is shared: wall time grows with the
load, CPU time much less). The printed tables are copied into the page.

Run ``python benchmarks/bench_main_job.py [--repeat N]``; writes
``docs/benchmarks/main_job.rst``.
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_cold_start import page_tail, rst_table  # noqa: E402

COMMANDS = {
    "python -m sklearn_recsys": ["--no-report"],
    "python -m sklearn_recsys --quick": ["--quick"],
}


def timed(args):
    """Wall and CPU seconds of ``python -m sklearn_recsys ARGS``, its output and the loads."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as cwd:  # nothing written into the checkout
        proc = subprocess.run([sys.executable, "-m", "sklearn_recsys", *args], cwd=cwd, env=env,
                              capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout, (load, os.getloadavg()[0])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs of each command")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "main_job.rst")
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_main_job.py " + " ".join(argv if argv is not None else sys.argv[1:])
    rows, outputs = [], {}
    for label, cli_args in COMMANDS.items():
        for run in range(1, args.repeat + 1):
            wall, cpu, stdout, (load0, load1) = timed(cli_args)
            outputs[label] = stdout
            rows.append({"command": f"``{label}``", "run": str(run), "wall (s)": f"{wall:.0f}",
                         "CPU (s)": f"{cpu:.0f}", "load before / after": f"{load0:.1f} / {load1:.1f}"})
            print(rows[-1], flush=True)
    table = rst_table(rows)
    print(table)
    lines = [
        "Main job: run time and output", "=============================", "",
        *__doc__.split("\n\n", 1)[1].split("Run ``python")[0].rstrip().splitlines(), "",
        "The default run writes its report to ``sklearn-recsys-report/``; here it runs with",
        "``--no-report`` (the plots take about a second more).", "",
        table, "",
    ]
    for label, stdout in outputs.items():
        lines += [f"Output of ``{label}`` (last run)", "-" * (len(label) + 26), "",
                  "::", "", *[f"   {line}" if line else "" for line in stdout.splitlines()], ""]
    lines += page_tail(args.out, command)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
