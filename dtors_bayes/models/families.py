"""Outcome families: one parameterisation shared by the simulator and the PyMC models.

Every family maps one or two *linear predictors* on the link scale to a likelihood and to
the response-scale expectation ``mu`` (the estimand quantity, see ARCHITECTURE.md). The
numpy side (:meth:`Family.mean`, :meth:`Family.simulate`) is what
:mod:`dtors_bayes.simulation.generate`
draws from; the PyMC side (:meth:`Family.observe`) is what :mod:`dtors_bayes.models.change_model`
scores. Because both read the same parameter names (``sigma``, ``phi``, ``alpha``, ``nu``,
``sigma_pos``, ``shape_pos``), recovery against the simulator's truth is meaningful.

Parts
-----
Most families have one predictor, ``eta``. Hurdle families have two: ``eta`` for the
probability of a non-zero value (logit link) and ``eta_pos`` for the location of the positive
part (log link). EQ-5D utility is modelled as a hurdle on the disutility ``d = 1 - y``:
``P(y < 1) = expit(eta)`` and ``d | d > 0 ~ LogNormal(eta_pos, sigma_pos)``, so ``y <= 1``.

Families and their response-scale mean
--------------------------------------
===================  =============================================  ===========================
family               likelihood                                     mu
===================  =============================================  ===========================
bernoulli            y ~ Bernoulli(expit(eta))                       expit(eta)
binomial             y ~ Binomial(n, expit(eta))                     n expit(eta)
beta_binomial        y ~ BetaBinomial(n, p phi, (1 - p) phi)         n expit(eta)
negative_binomial    y ~ NegBin(mean exp(eta), alpha)                exp(eta)
gaussian             y ~ Normal(eta, sigma)                          eta
student_t            y ~ StudentT(nu, eta, sigma)                    eta
hurdle_lognormal     1[y>0] ~ Bern(expit(eta));                      see below
                     y|y>0 ~ LogN(eta_pos, sigma_pos)
hurdle_gamma         1[y>0] ~ Bern(expit(eta));                      expit(eta) exp(eta_pos)
                     y|y>0 ~ Gamma(mean exp(eta_pos), shape_pos)
eq5d                 1[y<1] ~ Bern(expit(eta));                      see below
                     1-y|y<1 ~ LogN(eta_pos, sigma_pos)
===================  =============================================  ===========================

hurdle_lognormal: ``mu = expit(eta) exp(eta_pos + sigma_pos^2 / 2)``;
eq5d: ``mu = 1 - expit(eta) exp(eta_pos + sigma_pos^2 / 2)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

Array = np.ndarray


@dataclass(frozen=True)
class Family:
    """An outcome family.

    Attributes
    ----------
    name : str
        Family name as users write it.
    parts : tuple of str
        Linear predictors: ``("eta",)`` or ``("eta", "eta_pos")`` for hurdles.
    aux : dict of str to (prior name, scale)
        Auxiliary parameters and their default priors: ``("halfnormal", s)`` or
        ``("gamma_nu", None)`` (Gamma(2, 0.1), the Juarez-Steel prior for Student-t nu).
    link : str
        Link of ``eta`` (``logit``, ``log`` or ``identity``).
    support : str
        Plain words for the allowed values, used in error messages.
    kind : str
        ``"binary"``, ``"count"``, ``"bounded_count"``, ``"continuous"``, ``"nonnegative"`` or
        ``"utility"``: what the selection model and the validation need to know.
    """

    name: str
    parts: tuple[str, ...]
    aux: Mapping[str, tuple[str, float | None]]
    link: str
    support: str
    kind: str
    _invalid: Callable[[Array, int], Array] = field(repr=False, compare=False)

    # ---- numpy side -------------------------------------------------------------------
    def invalid(self, y: Array, trials: int = 28) -> Array:
        """Boolean mask of non-missing values outside the family's support."""
        y = np.asarray(y, dtype=float)
        ok = ~np.isnan(y)
        out = np.zeros(y.shape, dtype=bool)
        out[ok] = self._invalid(y[ok], trials)
        return out

    def mean(
        self, etas: Mapping[str, Array], aux: Mapping[str, Array | float], trials: int = 28
    ) -> Array:
        """Response-scale expectation ``mu`` from linear predictors and auxiliary values."""
        eta = np.asarray(etas["eta"])
        n = self.name
        if n == "bernoulli":
            return expit(eta)
        if n in ("binomial", "beta_binomial"):
            return trials * expit(eta)
        if n == "negative_binomial":
            return np.exp(eta)
        if n in ("gaussian", "student_t"):
            return eta
        eta_pos = np.asarray(etas["eta_pos"])
        if n == "hurdle_lognormal":
            return expit(eta) * np.exp(eta_pos + 0.5 * np.asarray(aux["sigma_pos"]) ** 2)
        if n == "hurdle_gamma":
            return expit(eta) * np.exp(eta_pos)
        if n == "eq5d":
            return 1.0 - expit(eta) * np.exp(eta_pos + 0.5 * np.asarray(aux["sigma_pos"]) ** 2)
        raise AssertionError(n)  # pragma: no cover - families are a closed set

    def simulate(
        self,
        rng: np.random.Generator,
        etas: Mapping[str, Array],
        aux: Mapping[str, float],
        trials: int = 28,
    ) -> Array:
        """Draw outcomes given linear predictors (same parameterisation as the model)."""
        eta = np.asarray(etas["eta"], dtype=float)
        n = self.name
        if n == "bernoulli":
            return rng.binomial(1, expit(eta)).astype(float)
        if n == "binomial":
            return rng.binomial(trials, expit(eta)).astype(float)
        if n == "beta_binomial":
            p = expit(eta)
            phi = aux["phi"]
            q = rng.beta(np.clip(p * phi, 1e-9, None), np.clip((1 - p) * phi, 1e-9, None))
            return rng.binomial(trials, q).astype(float)
        if n == "negative_binomial":
            mu = np.exp(eta)
            alpha = aux["alpha"]
            # Gamma-Poisson mixture: var = mu + mu^2 / alpha (PyMC's NegativeBinomial(mu, alpha)).
            lam = rng.gamma(alpha, mu / alpha)
            return rng.poisson(lam).astype(float)
        if n == "gaussian":
            return rng.normal(eta, aux["sigma"])
        if n == "student_t":
            return eta + aux["sigma"] * rng.standard_t(aux["nu"], size=eta.shape)
        nonzero = rng.binomial(1, expit(eta)).astype(bool)
        eta_pos = np.asarray(etas["eta_pos"], dtype=float)
        if n in ("hurdle_lognormal", "eq5d"):
            pos = np.exp(rng.normal(eta_pos, aux["sigma_pos"]))
        else:  # hurdle_gamma
            k = aux["shape_pos"]
            pos = rng.gamma(k, np.exp(eta_pos) / k)
        value = np.where(nonzero, pos, 0.0)
        return 1.0 - value if n == "eq5d" else value

    # ---- PyMC side ---------------------------------------------------------------------
    def observe(self, name: str, etas: Mapping, aux: Mapping, y: Array, trials: int = 28) -> None:
        """Add the likelihood of the observed values ``y`` (1-D, no NaN) to the active model.

        ``etas`` hold PyTensor vectors aligned with ``y``; ``aux`` holds the auxiliary random
        variables created by :func:`make_aux`. Hurdle families factor into a Bernoulli for
        "non-zero" and a positive-part likelihood on the non-zero values only, which is the
        hurdle likelihood written as a product.
        """
        import pymc as pm

        eta = etas["eta"]
        n = self.name
        y = np.asarray(y)
        if n == "bernoulli":
            pm.Bernoulli(name, logit_p=eta, observed=y.astype("int8"))
        elif n == "binomial":
            pm.Binomial(name, n=trials, logit_p=eta, observed=y.astype("int64"))
        elif n == "beta_binomial":
            p = pm.math.sigmoid(eta)
            phi = aux["phi"]
            pm.BetaBinomial(
                name, n=trials, alpha=p * phi, beta=(1 - p) * phi, observed=y.astype("int64")
            )
        elif n == "negative_binomial":
            pm.NegativeBinomial(
                name, mu=pm.math.exp(eta), alpha=aux["alpha"], observed=y.astype("int64")
            )
        elif n == "gaussian":
            pm.Normal(name, mu=eta, sigma=aux["sigma"], observed=y)
        elif n == "student_t":
            pm.StudentT(name, nu=aux["nu"], mu=eta, sigma=aux["sigma"], observed=y)
        else:
            value = 1.0 - y if n == "eq5d" else y
            nonzero = value > 0
            pm.Bernoulli(f"{name}_nonzero", logit_p=eta, observed=nonzero.astype("int8"))
            idx = np.flatnonzero(nonzero)
            eta_pos = etas["eta_pos"][idx]
            if n == "hurdle_gamma":
                k = aux["shape_pos"]
                pm.Gamma(
                    f"{name}_positive", alpha=k, beta=k / pm.math.exp(eta_pos), observed=value[idx]
                )
            else:
                pm.LogNormal(
                    f"{name}_positive", mu=eta_pos, sigma=aux["sigma_pos"], observed=value[idx]
                )

    def logp_terms(self, etas: Mapping, aux: Mapping, y: Array, trials: int = 28) -> dict:
        """Elementwise log densities of observed ``y`` (PyTensor) for broadcasting
        predictors, e.g. ``eta`` of shape (n_cells, K) at K person-effect nodes and ``y`` of
        shape (n_cells,): ``{part: (index, logp)}``, ``index`` ``None`` for every cell.

        The same likelihood as :meth:`observe`, written out for the families the person-effect
        quadrature supports (:data:`dtors_bayes.models.quadrature.QUADRATURE_FAMILIES`):
        ``y eta - n log(1 + e^eta) + log C(n, y)``, without PyMC's support checks (the data
        are validated when the cohort is built), a quarter faster at K nodes per cell.
        """
        from pytensor.tensor.math import softplus
        from scipy.special import gammaln

        if self.name not in ("bernoulli", "binomial"):
            from dtors_bayes.exceptions import ModelError

            raise ModelError(f"logp_terms: family {self.name!r} is not written out; "
                             "allowed: 'bernoulli', 'binomial'")
        col = np.asarray(y)[:, None]
        size = 1 if self.name == "bernoulli" else int(trials)
        logc = gammaln(size + 1.0) - gammaln(col + 1.0) - gammaln(size - col + 1.0)
        return {"eta": (None, logc + col * etas["eta"] - size * softplus(etas["eta"]))}

    def make_aux(self, scales: Mapping[str, float] | None = None) -> dict:
        """Create the auxiliary random variables with their default (or given) prior scales."""
        import pymc as pm

        scales = dict(scales or {})
        out = {}
        for par, (kind, scale) in self.aux.items():
            s = scales.get(par, scale)
            if kind == "halfnormal":
                out[par] = pm.HalfNormal(par, sigma=s)
            elif kind == "gamma_nu":
                out[par] = pm.Gamma(par, alpha=2.0, beta=0.1)
            elif kind == "gamma":
                out[par] = pm.Gamma(par, alpha=2.0, beta=2.0 / s)
            else:  # pragma: no cover
                raise AssertionError(kind)
        return out


def _not_binary(y: Array, trials: int) -> Array:
    return ~np.isin(y, (0.0, 1.0))


def _not_bounded_count(y: Array, trials: int) -> Array:
    return (y < 0) | (y > trials) | (y != np.round(y))


def _not_count(y: Array, trials: int) -> Array:
    return (y < 0) | (y != np.round(y)) | ~np.isfinite(y)


def _not_finite(y: Array, trials: int) -> Array:
    return ~np.isfinite(y)


def _negative(y: Array, trials: int) -> Array:
    return (y < 0) | ~np.isfinite(y)


def _above_one(y: Array, trials: int) -> Array:
    return (y > 1) | ~np.isfinite(y)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("bernoulli", ("eta",), {}, "logit", "0 or 1", "binary", _not_binary),
        Family(
            "binomial",
            ("eta",),
            {},
            "logit",
            "whole numbers from 0 to the trials (28)",
            "bounded_count",
            _not_bounded_count,
        ),
        Family(
            "beta_binomial",
            ("eta",),
            {"phi": ("gamma", 10.0)},
            "logit",
            "whole numbers from 0 to the trials (28)",
            "bounded_count",
            _not_bounded_count,
        ),
        Family(
            "negative_binomial",
            ("eta",),
            {"alpha": ("gamma", 2.0)},
            "log",
            "whole numbers >= 0",
            "count",
            _not_count,
        ),
        Family(
            "gaussian",
            ("eta",),
            {"sigma": ("halfnormal", 1.0)},
            "identity",
            "finite numbers",
            "continuous",
            _not_finite,
        ),
        Family(
            "student_t",
            ("eta",),
            {"sigma": ("halfnormal", 1.0), "nu": ("gamma_nu", None)},
            "identity",
            "finite numbers",
            "continuous",
            _not_finite,
        ),
        Family(
            "hurdle_lognormal",
            ("eta", "eta_pos"),
            {"sigma_pos": ("halfnormal", 1.0)},
            "logit",
            "numbers >= 0 (zeros allowed)",
            "nonnegative",
            _negative,
        ),
        Family(
            "hurdle_gamma",
            ("eta", "eta_pos"),
            {"shape_pos": ("gamma", 2.0)},
            "logit",
            "numbers >= 0 (zeros allowed)",
            "nonnegative",
            _negative,
        ),
        Family(
            "eq5d",
            ("eta", "eta_pos"),
            {"sigma_pos": ("halfnormal", 1.0)},
            "logit",
            "utilities <= 1 (1 = full health)",
            "utility",
            _above_one,
        ),
    )
}


def get_family(name: str) -> Family:
    """Return the family called ``name`` or raise a ``ModelError`` listing the allowed ones."""
    from dtors_bayes.exceptions import ModelError

    try:
        return FAMILIES[name]
    except KeyError:
        raise ModelError(
            f"unknown family {name!r}; allowed: {', '.join(sorted(FAMILIES))}"
        ) from None
