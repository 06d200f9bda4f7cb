"""The exponential weights shared by EWMean and EWCovariance."""

import numpy as np
import pytest

from skportfolio.moments._weights import exponential_weights, reliability_denominator


def test_weights_by_hand():
    # halflife 1: each observation weighs twice the one before it.
    np.testing.assert_allclose(
        exponential_weights(3, 1.0), np.array([1.0, 2.0, 4.0]) / 7.0, rtol=1e-15
    )


@pytest.mark.parametrize("halflife", [0.3, 1.0, 5.0, 250.0])
def test_weights_halve_every_halflife(halflife):
    weights = exponential_weights(40, halflife)
    assert weights.sum() == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(weights[:-1] / weights[1:], 0.5 ** (1 / halflife))


def test_infinite_halflife_gives_equal_weights():
    np.testing.assert_array_equal(exponential_weights(8, np.inf), np.full(8, 1 / 8))


def test_single_observation():
    np.testing.assert_array_equal(exponential_weights(1, 3.0), [1.0])


@pytest.mark.parametrize("n", [2, 3, 10, 1001])
def test_denominator_with_equal_weights_is_bessel(n):
    weights = exponential_weights(n, np.inf)
    assert reliability_denominator(weights) == pytest.approx((n - 1) / n, rel=1e-14)


@pytest.mark.parametrize("halflife", [0.02, 0.05, 0.5, 3.0])
def test_denominator_keeps_its_digits_for_a_dominant_weight(halflife):
    # Two observations, unnormalised weights (a, 1): 1 - sum w^2 = 2a / (1+a)^2.
    # For halflife 0.02, a = 2**-50 and the naive 1 - sum w^2 is pure rounding.
    a = 2.0 ** (-1.0 / halflife)
    weights = exponential_weights(2, halflife)
    assert reliability_denominator(weights) == pytest.approx(
        2 * a / (1 + a) ** 2, rel=1e-14
    )
