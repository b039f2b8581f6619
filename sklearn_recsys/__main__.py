"""``python -m sklearn_recsys``: see :mod:`sklearn_recsys._cli`."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
