"""Declared parameter rules: constraints scikit-learn's ``_param_validation``
lacks, and the helpers every declared check of the package goes through.

The constraints subclass sklearn's own constraint classes, so
``_parameter_constraints`` and ``validate_params`` accept them (sklearn's
``make_constraint`` takes no other kind) and sklearn's error messages name
them. Rules that are a predicate on the value subclass ``HasMethods``:
sklearn's invalid value for it (an object with no methods) breaks them too.
"""

from numbers import Integral

import numpy as np
from sklearn import get_config
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    generate_invalid_param_val,
    make_constraint,
    validate_parameter_constraints,
)

__all__ = [
    "NGramRange",
    "NumberInterval",
    "TorchDevice",
    "TorchModuleClass",
    "invalid_param_values",
    "validate_own_params",
]


class NumberInterval(Interval):
    """An :class:`~sklearn.utils._param_validation.Interval` that booleans do
    not satisfy: ``max_len=True`` is a mistake, not 1."""

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


class TorchDevice(StrOptions):
    """``"auto"`` or anything ``torch.device`` accepts (None: the CPU)."""

    def __init__(self):
        super().__init__({"auto"})

    def is_satisfied_by(self, val):
        if val is None or (isinstance(val, str) and val == "auto"):
            return True
        import torch

        try:
            torch.device(val)
        except (RuntimeError, TypeError, ValueError):
            return False
        return True

    def __str__(self):
        return "'auto', None or a torch device (e.g. 'cpu', 'cuda', 'cuda:1')"


class TorchModuleClass(HasMethods):
    """A subclass of ``base`` (a class, not an instance); ``what`` names the
    class users should subclass in the error message."""

    def __init__(self, base, what=None):
        super().__init__(["forward"])
        self.base = base
        self.what = what or base.__name__

    def is_satisfied_by(self, val):
        return isinstance(val, type) and issubclass(val, self.base)

    def __str__(self):
        return f"a {self.what} subclass (a class, not an instance)"


def validate_own_params(obj):
    """Check ``obj``'s attributes against its ``_parameter_constraints``.

    For objects that validate outside ``_fit_context``: splitters (no
    ``fit``) and skorch nets (whose ``fit`` must not be wrapped). Skipped
    under ``sklearn.config_context(skip_parameter_validation=True)``, as
    sklearn's own validation is.
    """
    if get_config()["skip_parameter_validation"]:
        return
    constraints = obj._parameter_constraints
    validate_parameter_constraints(
        constraints, {name: getattr(obj, name) for name in constraints},
        caller_name=type(obj).__name__,
    )


class _NotAParameter:
    """An object no declared constraint accepts (but ``object``)."""

    def __repr__(self):
        return "<not a parameter>"


def invalid_param_values(constraints):
    """Values that break ``constraints`` (a list, as declared for one parameter).

    An object of no accepted type, ``True`` unless a bool is accepted (a
    bool is no count: :class:`NumberInterval`), then a value just outside each range or
    option set (:func:`sklearn.utils._param_validation.generate_invalid_param_val`)
    that no other constraint of the list accepts. For tests of declared
    parameters.
    """
    constraints = [make_constraint(c) for c in constraints]
    values = [v for v in (_NotAParameter(), True)
              if not any(c.is_satisfied_by(v) for c in constraints)]
    for constraint in constraints:
        try:
            value = generate_invalid_param_val(constraint)
        except NotImplementedError:  # e.g. "array-like": no value just outside
            continue
        if not any(c.is_satisfied_by(value) for c in constraints):
            values.append(value)
    return values


class NGramRange(HasMethods):
    """A tuple ``(min_n, max_n)`` of ints with ``1 <= min_n <= max_n``."""

    def __init__(self):
        super().__init__(["__len__"])

    def is_satisfied_by(self, val):
        return (
            isinstance(val, tuple) and len(val) == 2
            and all(isinstance(v, Integral) and not isinstance(v, (bool, np.bool_)) for v in val)
            and 1 <= val[0] <= val[1]
        )

    def __str__(self):
        return "a tuple (min_n, max_n) of ints with 1 <= min_n <= max_n"
