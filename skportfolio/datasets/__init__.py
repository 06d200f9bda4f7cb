"""Embedded datasets and helpers to turn prices into returns."""

from skportfolio.datasets._industry import load_industry_returns
from skportfolio.datasets._prices import prices_to_returns

__all__ = ["load_industry_returns", "prices_to_returns"]
