"""Memory guards for the models whose size grows with the catalogue."""

import os


def _available_memory():
    """Bytes of memory available to a new allocation, or None when unknown.

    ``MemAvailable`` of ``/proc/meminfo`` (Linux: free memory plus what the
    kernel can reclaim), else the free physical pages (``os.sysconf``).
    """
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _format_bytes(n):
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000


def _check_memory(estimator, needed, what, alternatives):
    """Raise MemoryError when ``needed`` bytes exceed the available memory.

    ``what`` says what needs them (with the number of items), and
    ``alternatives`` what to use instead; both end up in the message. Called
    in ``fit`` once the vocabulary is known: before raising, the fitted
    state already set (``classes_``, ...) is dropped, so the model is left
    unfitted rather than half fitted.
    """
    available = _available_memory()
    if available is not None and needed > available:
        for name in [a for a in vars(estimator) if a.endswith("_") and not a.endswith("__")]:
            delattr(estimator, name)
        raise MemoryError(
            f"{what} needs about {needed:,} bytes ({_format_bytes(needed)}), but only "
            f"{available:,} bytes ({_format_bytes(available)}) are available. "
            f"{alternatives}"
        )
