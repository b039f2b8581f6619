"""What the skorch estimators of this package share: devices, seeding,
parameter rules, pickling and the documentation of skorch's parameters."""

import importlib
import inspect
import numbers
import re
import threading
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.utils import check_random_state
from skorch import NeuralNet

from ._doc_link import DocLinkMixin
from ._state import plain_state, rich_state
from .utils._param_validation import validate_own_params

__all__ = ["TorchMixin", "skorch_params_doc", "with_skorch_params"]

# Held by every seeded fit for its whole seeded block (:meth:`TorchMixin._seeded`).
# torch has one global generator per process (and per CUDA device), and
# dropout, weight initialisation and skorch's batch shuffling draw from it:
# two seeded fits running in threads of one process (joblib's threading
# backend, Dask workers with several threads) would interleave their draws
# and both lose their seed. Under the lock they run one after the other,
# each from its own seed. Re-entrant, so a seeded fit may fit another
# estimator seeded inside it.
_SEED_LOCK = threading.RLock()


class TorchMixin(DocLinkMixin):
    """Shared plumbing of the skorch ``NeuralNet`` subclasses of this package.

    * ``device="auto"`` means CUDA when available, else the CPU. The
      parameter keeps the value the user set (so ``clone`` and
      ``get_params`` round-trip); ``device_`` holds the device the network
      was built on, and "auto" is resolved again when a pickle is loaded, so
      a model fitted on a GPU loads on a CPU-only machine.
    * ``random_state`` seeds torch inside ``fit`` only (:meth:`_seeded`);
      seeded fits in threads of one process run one at a time, so each gives
      the model of its seed in any joblib backend.
    * ``_parameter_constraints`` are declared as in scikit-learn and checked
      by :meth:`_validate_own_params` at the start of ``fit`` (skorch's own
      ``_validate_params`` checks its prefixes, not values).
    * Fitted state, private included, ends in ``_``: skorch lists every
      other attribute as a constructor parameter (``get_params``, ``clone``),
      so nothing else is set on the estimator outside ``__init__``.

    Subclasses whose network is sized by fitted state define
    ``_initialize_needs``: the fitted attribute ``initialize`` requires, and
    the message raised without it.
    """

    _parameter_constraints: dict = {}
    _initialize_needs = None  # (attribute, message)

    def _validate_own_params(self):
        validate_own_params(self)

    # -- device --------------------------------------------------------------
    def _resolve_device(self):
        if isinstance(self.device, str) and self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        dev = torch.device(self.device if self.device is not None else "cpu")
        if dev.type == "cuda":
            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if count == 0:
                raise ValueError(
                    f"device={self.device!r} needs a CUDA GPU, but torch sees none "
                    f"(torch.cuda.is_available() is False; torch {torch.__version__}). "
                    "Use device='auto' (CUDA when present, else the CPU) or device='cpu'."
                )
            if dev.index is not None and dev.index >= count:
                raise ValueError(
                    f"device={self.device!r} names GPU {dev.index}, but torch sees "
                    f"{count} GPU(s) (indices 0 to {count - 1})."
                )
        elif dev.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(
                f"device={self.device!r} needs Apple's MPS backend, which torch reports "
                "unavailable here. Use device='auto' or device='cpu'."
            )
        return str(dev)

    @contextmanager
    def _on_device(self):
        """Let skorch's own code see the resolved device instead of "auto"."""
        requested = self.device
        if not (isinstance(requested, str) and requested == "auto"):
            yield
            return
        self.device = getattr(self, "device_", None) or self._resolve_device()
        try:
            yield
        finally:
            self.device = requested

    def initialize(self):
        """Build the network, loss and optimizer; needs the fitted state."""
        if self._initialize_needs is not None:
            attribute, message = self._initialize_needs
            if not hasattr(self, attribute):
                raise ValueError(message)
        self.device_ = self._resolve_device()
        with self._on_device():
            return super().initialize()

    # set_params(module__*=...) on a fitted net re-initialises through these
    def _initialize_module(self, reason=None):
        with self._on_device():
            return super()._initialize_module(reason=reason)

    def _initialize_criterion(self, reason=None):
        with self._on_device():
            return super()._initialize_criterion(reason=reason)

    # -- randomness ----------------------------------------------------------
    def _seed(self):
        """Torch seed of ``random_state``: the int itself, a draw from a
        RandomState instance, or None (unseeded)."""
        rs = self.random_state
        if rs is None:
            return None
        if isinstance(rs, numbers.Integral):
            return int(rs)
        return int(check_random_state(rs).randint(np.iinfo(np.int32).max))

    @contextmanager
    def _seeded(self, seed):
        """Seed torch's generators (CPU, and the model's CUDA device) inside the block only.

        The block holds the process-wide ``_SEED_LOCK``: seeded fits in
        other threads wait for it, so nothing of theirs draws from the seeded
        generators, and the generators are restored before the next one
        starts. An unseeded fit (``seed=None``) takes neither the lock nor a
        seed: it runs at once and draws from torch's global generator as it
        is.
        """
        if seed is None:
            yield
            return
        dev = torch.device(self.device_)
        devices = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
        with _SEED_LOCK, torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield

    # -- pickling ------------------------------------------------------------
    def __getstate__(self):
        # DataFrames and tuple-keyed dicts as plain containers (skops)
        return plain_state(super().__getstate__())

    def __setstate__(self, state):
        state = rich_state(state)
        requested = state.get("device")
        auto = isinstance(requested, str) and requested == "auto"
        if auto:
            # resolve "auto" on the loading machine: CUDA state maps to the
            # CPU without a warning when no GPU is there
            state = dict(state)
            state["device"] = "cuda" if torch.cuda.is_available() else "cpu"
        super().__setstate__(state)
        if "device_" in self.__dict__ or auto:
            self.device_ = str(torch.device(self.device)) if self.device is not None else "cpu"
        if auto:
            self.device = "auto"


# -- documentation of skorch's parameters ---------------------------------------

def _skorch_param_entries():
    """skorch's ``NeuralNet`` parameter entries: name -> (type, body lines)."""
    doc = inspect.cleandoc(NeuralNet.__doc__ or "")
    if "Parameters\n----------\n" not in doc:
        return {}  # a skorch without the section: every entry falls back
    section = doc.split("Parameters\n----------\n", 1)[1].split("\nAttributes\n", 1)[0]
    entries = {}
    for block in re.split(r"\n(?=\w+ : )", "\n" + section):
        head, _, body = block.strip("\n").partition("\n")
        name, _, kind = head.partition(" : ")
        # "float (default=0.01)" / "torch optim (class, default=torch.optim.SGD)"
        kind = re.sub(r",?\s*default=[^)]*", "", kind).replace(" ()", "").strip()
        entries[name.strip()] = (kind, inspect.cleandoc(body).splitlines())
    return entries


def _default_repr(value):
    if not inspect.isclass(value):
        return repr(value)
    # the shortest public path: torch.optim.Adam, not torch.optim.adam.Adam
    parts = value.__module__.split(".")
    for n in range(1, len(parts) + 1):
        path = ".".join(parts[:n])
        if getattr(importlib.import_module(path), value.__name__, None) is value:
            return f"{path}.{value.__name__}"
    return f"{value.__module__}.{value.__qualname__}"


def skorch_params_doc(cls, names, extra=None):
    """Numpydoc entries of skorch's own parameters, from skorch's docstring.

    Each entry takes skorch's text for the parameter and ``cls``'s default
    (its ``__init__`` signature), so the docs of skorch's parameters are
    derived from skorch, as :class:`skorch.NeuralNetClassifier`'s are, and
    stay right when skorch changes them.

    Parameters
    ----------
    cls : type
        The estimator; its ``__init__`` gives the defaults (skorch's for
        parameters it takes through ``**kwargs``).
    names : list of str
        skorch parameters to document, in order.
    extra : dict of str -> str, default=None
        A sentence (or more) to add after skorch's text, per parameter:
        what the parameter means for this estimator.

    Returns
    -------
    text : str
        The entries, indented for a class docstring's Parameters section.
    """
    entries = _skorch_param_entries()
    # the estimator's own default, else skorch's (a parameter of **kwargs)
    signature = {**inspect.signature(NeuralNet.__init__).parameters,
                 **inspect.signature(cls.__init__).parameters}
    extra = extra or {}
    out = []
    for name in names:
        # a skorch whose docstring lacks the entry still imports: point to it
        kind, body = entries.get(name, ("object", [f"See ``{name}`` of :class:`skorch.NeuralNet`."]))
        default = signature[name].default if name in signature else inspect.Parameter.empty
        head = f"{name} : {kind}"
        if default is not inspect.Parameter.empty:
            head += f", default={_default_repr(default)}"
        out.append("    " + head)
        out += [("        " + line).rstrip() for line in body]
        if name in extra:
            out += ["", *("        " + line for line in inspect.cleandoc(extra[name]).splitlines())]
    return "\n".join(out)


_MARKER = re.compile(r"^    \{skorch_params: ([\w, ]+)\}$", re.M)


def with_skorch_params(extra=None):
    """Class decorator: fill the docstring's ``{skorch_params: a, b}`` lines.

    Each such line of the Parameters section becomes the numpydoc entries of
    those skorch parameters (:func:`skorch_params_doc`), with ``extra``
    sentences per parameter.
    """
    def decorate(cls):
        cls.__doc__ = _MARKER.sub(
            lambda m: skorch_params_doc(cls, [n.strip() for n in m.group(1).split(",")], extra),
            cls.__doc__,
        )
        return cls
    return decorate
