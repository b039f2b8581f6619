"""Links from an estimator's notebook (HTML) representation to its API page."""

import os

__all__ = ["DOCS_URL", "DocLinkMixin"]

#: Where the documentation is published. Set the environment variable
#: ``SKLEARN_RECSYS_DOCS_URL`` (read when the link is built) to point the
#: links at another copy, e.g. ``file:///path/to/docs/_build/html/`` for a
#: local build.
DOCS_URL = "https://sklearn-recsys.readthedocs.io/en/latest/"


class DocLinkMixin:
    """The "?" link of the HTML repr points to this package's API pages.

    scikit-learn's :class:`~sklearn.base.BaseEstimator` links to
    scikit-learn's own site and gives no link for classes of other
    packages. Put this mixin to the left of ``BaseEstimator`` (the
    recommender and torch mixins of the package already include it). The
    page is ``generated/<public module>.<class>.html``, the name the API
    reference gives it (``sklearn_recsys.baselines.EASE``).
    """

    _doc_link_module = "sklearn_recsys"

    @property
    def _doc_link_template(self):
        base = os.environ.get("SKLEARN_RECSYS_DOCS_URL") or DOCS_URL
        if not base.endswith("/"):
            base += "/"
        return base + "generated/{estimator_module}.{estimator_name}.html"
