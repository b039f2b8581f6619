"""PEP 562 lazy attributes for the subpackages that would import torch."""

from importlib import import_module

__all__ = ["attach"]


def attach(package, names):
    """``(__getattr__, __dir__)`` for ``package`` whose public ``names`` map to
    the private module (relative, e.g. ``"._encoder"``) that defines each:
    the module is imported on first use, not at package import."""
    namespace = import_module(package).__dict__

    def __getattr__(name):
        if name in names:
            value = getattr(import_module(names[name], package), name)
            namespace[name] = value  # later lookups skip __getattr__
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
