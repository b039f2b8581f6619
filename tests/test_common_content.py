"""scikit-learn's estimator checks on ContentEncoder with tabular (numeric) input.

With a 2-D array of numbers every column is a numeric column, and the
encoder is an ordinary transformer to which sklearn's checks apply. Text and
list columns are covered in ``test_content.py``.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_recsys.content import ContentEncoder

INIT_PARAMS = dict(max_epochs=2, batch_size=32, random_state=0, module__d_model=8)

# skorch's NeuralNet behaviour, shared by every skorch estimator.
EXPECTED_FAILED = {
    "check_no_attributes_set_in_init": (
        "skorch's NeuralNet.__init__ sets history_, initialized_ and "
        "virtual_params_, and stores module__* keyword arguments as attributes."
    ),
    "check_do_not_raise_errors_in_init_or_set_params": (
        "skorch's set_params re-initialises callbacks at once, so an invalid "
        "callbacks value raises in set_params rather than in fit."
    ),
    "check_set_params": (
        "skorch's set_params treats _params_to_validate (listed by its "
        "get_params) as a set it updates; setting it to a number breaks it."
    ),
}


@parametrize_with_checks(
    [ContentEncoder(**INIT_PARAMS)],
    expected_failed_checks=lambda est: EXPECTED_FAILED,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
