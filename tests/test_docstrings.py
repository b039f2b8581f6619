"""Every public class and function has a numpydoc docstring with an example.

Public names are those of each subpackage's ``__all__`` (plus
``sklearn_recsys.base.RecommenderMixin``, the recommender contract, and the
``__all__`` of the public modules ``utils.discovery`` and
``utils.estimator_checks``). The examples themselves run as doctests
(``--doctest-modules`` in pyproject.toml); this file checks that they
exist, that the docstrings parse as numpydoc and document the real
parameters, and that the API reference (docs/api.rst) lists every public
name.
"""

import importlib
import inspect
import re
import warnings
from pathlib import Path

import pytest
from numpydoc.docscrape import ClassDoc, FunctionDoc

import sklearn_recsys

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = sorted({*(n for n in sklearn_recsys.__all__ if not n.startswith("_")), "utils"})
PUBLIC_MODULES = ["utils.discovery", "utils.estimator_checks"]

# Public names without an Examples section, in files owned by another work
# item; remove an entry when its example lands.
KNOWN_MISSING_EXAMPLES = {
}


def _public_objects():
    objects = []
    for sub in SUBPACKAGES:
        module = importlib.import_module(f"sklearn_recsys.{sub}")
        for name in module.__all__:
            objects.append((f"sklearn_recsys.{sub}.{name}", getattr(module, name)))
    from sklearn_recsys.base import RecommenderMixin

    objects.append(("sklearn_recsys.base.RecommenderMixin", RecommenderMixin))
    # public modules of utils, not re-exported by it (as in sklearn.utils)
    for sub in PUBLIC_MODULES:
        module = importlib.import_module(f"sklearn_recsys.{sub}")
        for name in module.__all__:
            objects.append((f"sklearn_recsys.{sub}.{name}", getattr(module, name)))
    return objects


PUBLIC = _public_objects()


def _doc(obj):
    """numpydoc's parse of ``obj``'s docstring; its warnings become errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if inspect.isclass(obj):
            return ClassDoc(obj)
        return FunctionDoc(inspect.unwrap(obj))  # validate_params wraps some


def _params(entries):
    names = set()
    for entry in entries:
        names.update(n.strip() for n in entry.name.split(","))
    return names


def test_public_names_found():
    assert len(PUBLIC) > 30
    for name, obj in PUBLIC:
        assert inspect.isclass(obj) or inspect.isfunction(inspect.unwrap(obj)), name


@pytest.mark.parametrize(
    "name, obj",
    [
        pytest.param(name, obj, id=name, marks=pytest.mark.xfail(reason=KNOWN_MISSING_EXAMPLES[name]))
        if name in KNOWN_MISSING_EXAMPLES else pytest.param(name, obj, id=name)
        for name, obj in PUBLIC
    ],
)
def test_docstring_has_summary_and_runnable_example(name, obj):
    doc = _doc(obj)
    assert " ".join(doc["Summary"]).strip(), f"{name}: no one-line summary"
    examples = "\n".join(doc["Examples"])
    assert ">>>" in examples, f"{name}: no Examples section with a '>>>' line"


@pytest.mark.parametrize("name, obj", [pytest.param(n, o, id=n) for n, o in PUBLIC])
def test_documented_parameters_match_signature(name, obj):
    if inspect.isclass(obj):
        if "__init__" not in vars(obj):  # no parameters of its own (e.g. Popularity)
            return
        func = obj.__init__
    else:
        func = inspect.unwrap(obj)
    expected = set()
    for p in inspect.signature(func).parameters.values():
        if p.name == "self":
            continue
        prefix = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        expected.add(prefix + p.name)
    documented = _params(_doc(obj)["Parameters"])
    assert documented == expected, (
        f"{name}: undocumented {sorted(expected - documented)}, "
        f"documented but absent {sorted(documented - expected)}"
    )


def test_api_reference_lists_every_public_name():
    api = (ROOT / "docs" / "api.rst").read_text(encoding="utf-8")
    listed = set()
    module = None
    for line in api.splitlines():
        match = re.match(r"\.\. currentmodule:: (\S+)", line)
        if match:
            module = match.group(1)
        elif module and re.fullmatch(r"   [A-Za-z_][\w.]*", line):
            listed.add(f"{module}.{line.strip()}")
    missing = sorted(name for name, _ in PUBLIC if name not in listed)
    assert not missing, f"docs/api.rst does not list {missing}"


@pytest.mark.parametrize("cls_name", ["ContentEncoder", "IntentRecommender"])
def test_skorch_parameters_are_documented_from_skorch(cls_name):
    # skorch's own parameters take skorch's text (and this class's default),
    # as skorch's NeuralNetClassifier derives its docstring from NeuralNet's
    from skorch import NeuralNet

    from sklearn_recsys.content import ContentEncoder
    from sklearn_recsys.intent import IntentRecommender

    cls = {"ContentEncoder": ContentEncoder, "IntentRecommender": IntentRecommender}[cls_name]
    doc = cls.__doc__
    assert "{skorch_params" not in doc
    entries = {e.name: e for e in _doc(cls)["Parameters"]}
    skorch_lr = inspect.cleandoc(NeuralNet.__doc__).split("\nlr : ")[1].split("\n\n")[0]
    first_line = skorch_lr.splitlines()[1].strip()  # "Learning rate passed to the optimizer. ..."
    assert first_line in " ".join(entries["lr"].desc)
    default = inspect.signature(cls.__init__).parameters["lr"].default
    assert entries["lr"].type == f"float, default={default!r}"
    assert entries["optimizer"].type.endswith("default=torch.optim.Adam")
