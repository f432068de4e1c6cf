"""A hierarchical multinomial (softmax) model of modality given covariates, site and area.

The generalised propensity score (Imbens 2000) of each modality, for the overlap diagnostics
of :mod:`dtors_bayes.causal.overlap` and as person-level modality shares ``pi_a(X)`` of the
confounding functions (:mod:`dtors_bayes.causal.confounding`). For person i in site s(i),
area a(i), with centred/scaled covariates ``x_i`` (the change model's encoder,
:class:`~dtors_bayes.models.encoding.CovariateEncoding`):

.. math::

    P(A_i = m) = \\frac{\\exp \\lambda_{im}}{\\sum_k \\exp \\lambda_{ik}}, \\qquad
    \\lambda_{im} = \\alpha_m + x_i^\\top \\beta_m + \\sigma_v \\tilde v_{s(i) m}
        + \\sigma_w \\tilde w_{a(i) m}, \\qquad \\lambda_{i1} = 0,

    \\alpha_m \\sim N(\\log(n_m / n_1), 1.5), \\quad \\beta_{cm} \\sim N(0, 1), \\quad
    \\sigma_v, \\sigma_w \\sim \\text{HalfNormal}(0.5), \\quad
    \\tilde v, \\tilde w \\sim N(0, 1)\\ (\\text{non-centred}),

with the first modality the reference. Site and area effects are partially pooled, one scale
per level, so that sites with few clients borrow from the rest. Parameters are prefixed
``ps_``; dims ``ps_modality`` (the non-reference modalities), ``covariate``, ``site``,
``area``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from dtors_bayes.exceptions import ModelError
from dtors_bayes.models.encoding import CovariateEncoding, covariate_variables


@dataclass
class PropensityDesign:
    """Arrays of the propensity model (persons with a modality and every covariate)."""

    person_ids: np.ndarray
    modality: np.ndarray
    modality_labels: list[str]
    X: np.ndarray
    covariate_names: list[str]
    site: np.ndarray | None = None
    site_labels: list[str] = field(default_factory=list)
    area: np.ndarray | None = None
    area_labels: list[str] = field(default_factory=list)

    @property
    def n_person(self) -> int:
        return len(self.person_ids)


def softmax_last(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis (numerically stable)."""
    z = x - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass
class PropensityModel:
    """Hierarchical multinomial model of modality (see the module notes).

    Parameters
    ----------
    covariates : list of str or str, optional
        Person-level columns or a formula right-hand side, encoded as in
        :class:`~dtors_bayes.models.change_model.ChangeModel`.
    levels : tuple of str
        Random effects among ``("site", "area")``.
    """

    covariates: list[str] | str | None = None
    levels: tuple[str, ...] = ("site", "area")

    def __post_init__(self) -> None:
        self.levels = tuple(self.levels)
        bad = [lvl for lvl in self.levels if lvl not in ("site", "area")]
        if bad:
            raise ModelError(f"PropensityModel levels={self.levels!r}; each must be 'site' or "
                             "'area'")

    def design(self, cohort) -> PropensityDesign:
        """The arrays for ``cohort`` (persons missing modality or a covariate are left out)."""
        persons = cohort.persons
        if "modality" not in persons.columns:
            raise ModelError("the cohort has no modality column")
        cols = (covariate_variables(self.covariates, persons.columns)
                if isinstance(self.covariates, str) else list(self.covariates or []))
        missing = [c for c in cols if c not in persons.columns]
        if missing:
            raise ModelError(f"covariates {missing} are not person-level columns")
        keep = persons["modality"].notna().to_numpy().copy()
        if cols:
            keep = keep & ~persons[cols].isna().any(axis=1).to_numpy()
        sub = persons.loc[keep].reset_index(drop=True)
        enc = CovariateEncoding.fit(sub, self.covariates)
        codes, labels = cohort.codes("modality")
        out = PropensityDesign(person_ids=cohort.person_ids()[keep],
                               modality=np.asarray(codes)[keep].astype(int),
                               modality_labels=[str(x) for x in labels],
                               X=enc.transform(sub), covariate_names=list(enc.names))
        for lvl in self.levels:
            if lvl not in cohort.levels:
                raise ModelError(f"the cohort has no {lvl}_id column")
            c, lab = cohort.codes(f"{lvl}_id")
            setattr(out, lvl, np.asarray(c)[keep].astype(int))
            setattr(out, f"{lvl}_labels", [str(x) for x in lab])
        if len(out.modality_labels) < 2:
            raise ModelError("a propensity model needs two or more modalities")
        return out

    def build(self, design: PropensityDesign) -> Any:
        """The PyMC model."""
        import pymc as pm
        import pytensor.tensor as pt

        labels = design.modality_labels
        n_mod = len(labels)
        counts = np.bincount(design.modality, minlength=n_mod) + 0.5
        coords = {"ps_modality": labels[1:], "covariate": design.covariate_names,
                  "person": [str(p) for p in design.person_ids]}
        for lvl in self.levels:
            coords[lvl] = getattr(design, f"{lvl}_labels")
        with pm.Model(coords=coords) as model:
            alpha = pm.Normal("ps_intercept", np.log(counts[1:] / counts[0]), 1.5,
                              dims="ps_modality")
            lam = pt.zeros((design.n_person, n_mod - 1)) + alpha[None, :]
            if design.X.shape[1]:
                beta = pm.Normal("ps_beta", 0.0, 1.0, dims=("covariate", "ps_modality"))
                lam = lam + pt.dot(design.X, beta)
            for lvl in self.levels:
                sigma = pm.HalfNormal(f"ps_sigma_{lvl}", 0.5)
                z = pm.Normal(f"ps_z_{lvl}", 0.0, 1.0, dims=(lvl, "ps_modality"))
                lam = lam + sigma * z[getattr(design, lvl)]
            full = pt.concatenate([pt.zeros((design.n_person, 1)), lam], axis=1)
            pm.Categorical("modality", logit_p=full, observed=design.modality, dims="person")
        return model

    def fit(self, cohort, *, draws: int = 1000, tune: int = 1000, chains: int = 4,
            random_seed: int | None = None, progressbar: bool = True,
            cores: int | None = None, sampler: str = "nutpie",
            target_accept: float | None = None) -> PropensityFit:
        """Sample the posterior (NUTS through :func:`~dtors_bayes.models.sampling.sample_model`)."""
        from dtors_bayes.models.sampling import effective_target_accept, sample_model

        design = self.design(cohort)
        model = self.build(design)
        if random_seed is None:
            random_seed = int(np.random.SeedSequence().generate_state(1)[0])
        tree, seconds = sample_model(model, draws=draws, tune=tune, chains=chains,
                                     random_seed=random_seed, sampler=sampler,
                                     progressbar=progressbar, cores=cores,
                                     target_accept=effective_target_accept(target_accept, None))
        return PropensityFit(self, design, tree, {"random_seed": random_seed,
                                                  "seconds": float(seconds)})


@dataclass
class PropensityFit:
    """A fitted :class:`PropensityModel`: the design and the posterior DataTree."""

    model: PropensityModel
    design: PropensityDesign
    tree: xr.DataTree
    provenance: dict

    def linear_predictors(self) -> np.ndarray:
        """``lambda`` per draw: array (S, n_person, M), reference column zero."""
        post = self.tree["posterior"].to_dataset()
        s = post.sizes["chain"] * post.sizes["draw"]

        def stacked(name):
            v = np.asarray(post[name].values)
            return v.reshape((s, *v.shape[2:]))

        d = self.design
        lam = np.broadcast_to(stacked("ps_intercept")[:, None, :],
                              (s, d.n_person, len(d.modality_labels) - 1)).copy()
        if d.X.shape[1]:
            lam += np.einsum("pc,scm->spm", d.X, stacked("ps_beta"))
        for lvl in self.model.levels:
            lam += (stacked(f"ps_sigma_{lvl}")[:, None, None]
                    * stacked(f"ps_z_{lvl}"))[:, getattr(d, lvl)]
        return np.concatenate([np.zeros((s, d.n_person, 1)), lam], axis=2)

    def propensities(self, draws: bool = False) -> np.ndarray:
        """Generalised propensities: posterior mean (n, M), or per draw (S, n, M)."""
        p = softmax_last(self.linear_predictors())
        return p if draws else p.mean(axis=0)

    def aligned(self, person_ids) -> np.ndarray:
        """Posterior-mean propensities in the order of ``person_ids`` (e.g. a change
        model's ``design.person_ids``), for :func:`dtors_bayes.causal.confounding` shares."""
        pos = {str(p): k for k, p in enumerate(self.design.person_ids)}
        missing = [p for p in person_ids if str(p) not in pos]
        if missing:
            raise ModelError(f"{len(missing)} person(s) have no propensity; first: "
                             f"{missing[:5]}")
        return self.propensities()[[pos[str(p)] for p in person_ids]]
