"""Sphinx configuration for sklearn-recsys."""

import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("SKLEARN_RECSYS_QUICK", "1")
# The gallery's networks are tiny and gain little from more threads, while
# OpenMP threads spinning on a CPU shared with other jobs made the next-item
# example 15x slower (140 s against 9 s with one thread, on 2 busy cores).
# Set before torch is imported; a value already in the environment wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import sklearn_recsys  # noqa: E402

project = "sklearn-recsys"
author = "sklearn-recsys developers"
copyright = "2026, sklearn-recsys developers"
release = sklearn_recsys.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
autodoc_default_options = {"members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
templates_path = ["_templates"]
# docs/benchmarks/*.rst are written by benchmarks/*.py and included by
# benchmarks.rst; they are not pages of their own.
exclude_patterns = [
    "_build", "benchmarks/*", "auto_examples/*.ipynb", "**/*.py.md5", "**/*.codeobj.json",
]
suppress_warnings = ["config.cache"]

html_theme = "pydata_sphinx_theme"
html_title = "sklearn-recsys"
html_theme_options = {"navigation_with_keys": False}

intersphinx_mapping = {}  # offline builds: no inventories fetched

sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    # "Examples using X" on every API page
    "doc_module": ("sklearn_recsys",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"sklearn_recsys": None},
    "show_memory": False,
}

# Benchmark pages, in this order first, then any other page alphabetically.
_BENCHMARK_ORDER = ("baselines", "intent", "ease_speed", "cold_start", "cold_intent", "cold_rules")


def _include_benchmarks(app, docname, source):
    """Append one ``.. include::`` per docs/benchmarks/*.rst to benchmarks.rst."""
    if docname != "benchmarks":
        return
    pages = sorted(
        (HERE / "benchmarks").glob("*.rst"),
        key=lambda p: (
            _BENCHMARK_ORDER.index(p.stem) if p.stem in _BENCHMARK_ORDER else len(_BENCHMARK_ORDER),
            p.stem,
        ),
    )
    source[0] += "".join(f"\n.. include:: benchmarks/{p.name}\n" for p in pages)


def _skip_metadata_requests(app, what, name, obj, skip, options):
    """Hide sklearn's generated ``set_*_request`` methods, as sklearn's own docs do."""
    if re.fullmatch(r"set_\w+_request", name):
        return True
    return None


def setup(app):
    app.connect("source-read", _include_benchmarks)
    app.connect("autodoc-skip-member", _skip_metadata_requests)
