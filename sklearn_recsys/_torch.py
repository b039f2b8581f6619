"""Device and seeding shared by the skorch estimators of this package."""

from contextlib import contextmanager

import torch

__all__ = ["TorchMixin"]


class TorchMixin:
    """``device="auto"`` and seeded torch randomness for a skorch ``NeuralNet``.

    ``"auto"`` means CUDA when available, else the CPU. The parameter keeps
    the value the user set (so ``clone`` and ``get_params`` round-trip);
    ``device_`` holds the device the network was built on.
    """

    def _resolve_device(self):
        if isinstance(self.device, str) and self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return str(torch.device(self.device if self.device is not None else "cpu"))

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

    @contextmanager
    def _seeded(self, seed):
        """Seed torch's generators (CPU, and the model's CUDA device) inside the block only."""
        if seed is None:
            yield
            return
        dev = torch.device(self.device_)
        devices = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield
