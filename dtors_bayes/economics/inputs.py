r"""Uncertain economic inputs: unit costs and priors given by the user, drawn per posterior draw.

An input is a :class:`Dist` (or a plain number, meaning a fixed value, or an array of S
draws used as they are). Cost distributions are parameterised by their mean and sd, as
health-economic models usually are (Briggs, Claxton & Sculpher 2006, ch. 4):

- ``gamma(mean, sd)``: shape :math:`(m/s)^2`, scale :math:`s^2/m` (costs: positive, skewed);
- ``lognormal(mean, sd)``: :math:`\sigma^2 = \log(1 + s^2/m^2)`, :math:`\mu = \log m - \sigma^2/2`;
- ``beta(mean, sd)``: :math:`a = m\nu`, :math:`b = (1-m)\nu`, :math:`\nu = m(1-m)/s^2 - 1`
  (proportions, e.g. the share of improvement that would have happened anyway);
- ``normal(mean, sd)``, ``uniform(low, high)``, ``fixed(value)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from dtors_bayes.exceptions import SpecError


@dataclass(frozen=True)
class Dist:
    """A distribution of one input: ``kind`` and two parameters (see the module docstring)."""

    kind: str
    a: float
    b: float = 0.0

    def __post_init__(self):
        kinds = ("fixed", "normal", "gamma", "lognormal", "beta", "uniform")
        if self.kind not in kinds:
            raise SpecError(f"Dist kind={self.kind!r}; allowed: {', '.join(kinds)}")
        if not (math.isfinite(self.a) and math.isfinite(self.b)):
            raise SpecError(f"{self}: parameters must be finite")
        if self.kind in ("normal", "gamma", "lognormal", "beta") and self.b < 0:
            raise SpecError(f"{self}: sd must be >= 0")
        if self.kind in ("gamma", "lognormal") and self.a <= 0:
            raise SpecError(f"{self}: mean must be > 0")
        if self.kind == "beta" and not (0 < self.a < 1 and
                                        (self.b == 0 or self.b**2 < self.a * (1 - self.a))):
            raise SpecError(f"{self}: need 0 < mean < 1 and sd^2 < mean (1 - mean)")
        if self.kind == "uniform" and self.b < self.a:
            raise SpecError(f"{self}: need low <= high")

    @property
    def mean(self) -> float:
        """The distribution's mean."""
        return (self.a + self.b) / 2 if self.kind == "uniform" else self.a

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent draws."""
        m, s = self.a, self.b
        if self.kind == "fixed" or (s == 0 and self.kind != "uniform"):
            return np.full(n, float(m))
        if self.kind == "normal":
            return rng.normal(m, s, n)
        if self.kind == "gamma":
            return rng.gamma((m / s) ** 2, s**2 / m, n)
        if self.kind == "lognormal":
            v = math.log1p(s**2 / m**2)
            return rng.lognormal(math.log(m) - v / 2, math.sqrt(v), n)
        if self.kind == "beta":
            nu = m * (1 - m) / s**2 - 1
            return rng.beta(m * nu, (1 - m) * nu, n)
        return rng.uniform(self.a, self.b, n)

    def __str__(self) -> str:
        if self.kind == "fixed":
            return f"{self.a:g}"
        if self.kind == "uniform":
            return f"U({self.a:g}, {self.b:g})"
        return f"{self.kind}(mean {self.a:g}, sd {self.b:g})"


def fixed(value: float) -> Dist:
    """A known value."""
    return Dist("fixed", float(value))


def normal(mean: float, sd: float) -> Dist:
    """Normal(mean, sd)."""
    return Dist("normal", float(mean), float(sd))


def gamma(mean: float, sd: float) -> Dist:
    """Gamma with this mean and sd (costs)."""
    return Dist("gamma", float(mean), float(sd))


def lognormal(mean: float, sd: float) -> Dist:
    """Log-normal with this mean and sd (on the natural scale)."""
    return Dist("lognormal", float(mean), float(sd))


def beta(mean: float, sd: float) -> Dist:
    """Beta with this mean and sd (proportions)."""
    return Dist("beta", float(mean), float(sd))


def uniform(low: float, high: float) -> Dist:
    """Uniform(low, high)."""
    return Dist("uniform", float(low), float(high))


def draws_of(value: Any, rng: np.random.Generator, n: int, what: str) -> np.ndarray:
    """``n`` draws of an input given as a :class:`Dist`, a number or an array of ``n`` draws."""
    if isinstance(value, Dist):
        return value.draw(rng, n)
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise SpecError(f"{what}: {arr.shape[0]} draws given, the posterior has {n}")
    if not np.all(np.isfinite(arr)):
        raise SpecError(f"{what}: non-finite draws")
    return arr.astype(float)


def describe(value: Any) -> str:
    """A short text for an input as given (for the assumption labels)."""
    if isinstance(value, Dist):
        return str(value)
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return f"{float(arr):g}"
    return f"{arr.size} draws (mean {arr.mean():g})"


__all__ = ["Dist", "beta", "describe", "draws_of", "fixed", "gamma", "lognormal", "normal",
           "uniform"]
