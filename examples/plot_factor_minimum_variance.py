"""
==================================================
Minimum variance with a factor-model covariance
==================================================

A factor model explains the co-movement of ``N`` assets by ``K`` common
factors, :math:`\\Sigma = B F B^\\top + D`: loadings :math:`B`, the
covariance :math:`F` of the factors and a diagonal matrix :math:`D` of
idiosyncratic variances. It has :math:`N(K + 1) + K(K + 1)/2` parameters
instead of :math:`N(N + 1)/2`, and its minimum-variance portfolio needs a
:math:`K \\times K` solve instead of an :math:`N \\times N` one (the
Woodbury identity, see the user guide).

:class:`~skportfolio.covariance.FactorModelCovariance` fits either kind of
factor:

* *observed* factors, here the Fama-French market, size and value factors
  and momentum shipped with the industry returns: each asset is regressed on
  the factor returns passed as ``y``;
* *statistical* factors, the principal components of the returns
  themselves (``n_factors`` of them).

This example compares the two, and the sample covariance, on the 12
industry portfolios: first how much of each industry's risk the factors
explain, then the minimum-variance portfolios they lead to, out of sample.
"""

# %%
# The data
# --------
# Monthly returns of the 12 industries and of the four factors, 1949-2017.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from skportfolio import MinimumVariance
from skportfolio.covariance import FactorModelCovariance, factor_minimum_variance
from skportfolio.datasets import load_industry_returns
from skportfolio.model_selection import WalkForward

industries, factors = load_industry_returns(return_factors=True)
observed = factors[["MktRF", "SMB", "HML", "Mom"]]
n_factors = observed.shape[1]
print(industries.shape, list(observed.columns))

# %%
# Risk explained by the factors
# -----------------------------
# Both models reproduce every industry's sample variance and split it into a
# part explained by the factors and an idiosyncratic part. Four principal
# components explain more of the total than the four observed factors, by
# construction: they are the four portfolios of the industries that explain
# the most variance, energy's in particular. The observed factors are
# long-short portfolios of all US stocks, not of these industries; that
# they still explain most of each industry's risk is the point of such
# models.
models = {
    "observed factors": FactorModelCovariance().fit(industries, observed),
    "principal components": FactorModelCovariance(n_factors=n_factors).fit(industries),
}
explained = pd.DataFrame(
    {
        name: 1.0 - model.idiosyncratic_variances_ / np.diag(model.covariance_)
        for name, model in models.items()
    },
    index=industries.columns,
)
print(explained.round(2))

fig, ax = plt.subplots(layout="constrained")
explained.plot.bar(ax=ax)
ax.set_ylim(0.0, 1.15)
ax.yaxis.set_major_formatter(PercentFormatter(1.0))
ax.legend(loc="upper center", ncols=2)
ax.set_ylabel("variance explained")
ax.set_title(f"{n_factors} factors, monthly returns 1949-2017")

# %%
# The observed-factor loadings are the familiar betas: utilities, telecoms
# and consumer non-durables have market betas well below one, durables,
# manufacturing and business equipment above one; business equipment is a
# growth industry (negative value loading), utilities and finance value
# industries.
loadings = pd.DataFrame(
    models["observed factors"].loadings_,
    index=industries.columns,
    columns=observed.columns,
)
print(loadings.round(2))

# %%
# Minimum variance out of sample
# ------------------------------
# Every quarter, each covariance is estimated on the last 60 months and the
# fully invested minimum-variance portfolio (short positions allowed, where
# the covariance matters most) is held for the next three months. With the
# statistical factors, :class:`~skportfolio.MinimumVariance` takes the
# factor path by itself: ``FactorModelCovariance`` exposes its
# ``factor_structure_`` and the weights come from Woodbury solves. With
# observed factors the model needs the factor returns as ``y``, so the
# structure is fitted directly and
# :func:`~skportfolio.covariance.factor_minimum_variance` gives the same
# closed form.
unbounded = {"min_weights": None, "max_weights": None}


def sample_portfolio(train):
    model = MinimumVariance(**unbounded).fit(train)
    return model.weights_, model.covariance_


def principal_component_portfolio(train):
    model = MinimumVariance(
        covariance_estimator=FactorModelCovariance(n_factors=n_factors), **unbounded
    ).fit(train)
    return model.weights_, model.covariance_structure_.dense()


def observed_factor_portfolio(train):
    model = FactorModelCovariance().fit(train, observed.loc[train.index])
    return factor_minimum_variance(model.factor_structure_), model.covariance_


strategies = {
    "sample covariance": sample_portfolio,
    "principal components": principal_component_portfolio,
    "observed factors": observed_factor_portfolio,
}
cv = WalkForward(train_size=60, test_size=3, allow_partial=True)
realised = {name: [] for name in strategies}
predicted = {name: [] for name in strategies}
for train_index, test_index in cv.split(industries):
    train, test = industries.iloc[train_index], industries.iloc[test_index]
    for name, portfolio in strategies.items():
        weights, covariance = portfolio(train)
        realised[name].append(test @ weights)
        predicted[name].append(weights @ covariance @ weights)

# %%
# Each model promises a volatility, its own estimate of the portfolio's risk
# at the time of the rebalance; the realised one is the standard deviation
# of the portfolio's returns in the following quarters (both annualised).
#
# The observed factors give the least volatile portfolio out of sample and
# the smallest gap between promise and outcome. Every model is optimistic,
# because the optimiser seeks out the combinations whose risk its estimate
# understates; the observed factors, estimated from all US stocks, leave it
# the fewest such errors to exploit. Four principal components do worse
# than the sample covariance here: they are themselves estimated from the
# same 60 months, and with only 12 assets there is little noise for them to
# remove. Statistical factors pay off when the assets far outnumber the
# periods, where the sample covariance is singular.
summary = pd.DataFrame(
    {
        "promised": {
            name: np.sqrt(12 * np.mean(values)) for name, values in predicted.items()
        },
        "realised": {
            name: np.sqrt(12) * pd.concat(returns).std()
            for name, returns in realised.items()
        },
    }
)
print(summary.round(4))

fig, ax = plt.subplots(layout="constrained")
summary.plot.bar(ax=ax, rot=0)
ax.set_ylim(0.0, 0.16)
ax.yaxis.set_major_formatter(PercentFormatter(1.0))
ax.legend(loc="upper center", ncols=2)
ax.set_ylabel("annualised volatility")
ax.set_title("Long-short minimum variance\n60-month window, quarterly rebalancing")
