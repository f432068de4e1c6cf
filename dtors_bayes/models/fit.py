"""A fitted change model: the DataTree, its provenance, estimates, and save/load.

Layout of ``fit.tree`` (an ``xarray.DataTree``):

- ``posterior``, ``sample_stats``: from the sampler (chain, draw, ...);
- ``constant_data``: the :class:`~dtors_bayes.models.design.Design` (codes, covariates, outcome
  matrix, months, interview mask), enough to compute every estimand without the cohort;
- ``weights`` (optional): weight draws (``sample``, ``person``), chain-major, for
  propagated weighting (:func:`dtors_bayes.weighting.draws.attach_weights`);
- attributes (JSON strings): ``spec`` (the model), ``provenance`` (data hash, seeds,
  sampler settings, versions, timings), ``exclusions`` (persons excluded and why).

Saved as netCDF4 (h5netcdf) with JSON attributes: data, never code, so opening a fit
received from elsewhere runs nothing.
"""

from __future__ import annotations

import json
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from dtors_bayes._format import json_default
from dtors_bayes.constants import CI_PROB
from dtors_bayes.models.design import Design
from dtors_bayes.models.diagnostics import diagnose, is_offset, trouble
from dtors_bayes.models.sampling import versions

FORMAT_VERSION = 1








class Fit:
    """A fitted :class:`~dtors_bayes.models.change_model.ChangeModel`.

    Use :meth:`estimate` for population estimands, :meth:`diagnostics` for convergence,
    :meth:`save` / :func:`load_fit` to keep it.
    """

    def __init__(self, model, design: Design, tree: xr.DataTree, provenance: dict):
        self.model = model
        self.design = design
        self.tree = tree
        self.provenance = provenance
        self.data_hash_mismatch = False
        #: the cohort the fit was made from (kept in memory only; pass cohort= after loading)
        self.cohort = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_sampling(cls, model, design: Design, tree: xr.DataTree, *, cohort, seconds: float,
                      settings: dict) -> Fit:
        """Assemble a fit from a sampled DataTree (adds constant data and provenance)."""
        tree = tree.copy()
        tree["constant_data"] = xr.DataTree(design.to_dataset())
        cohort_excl = getattr(cohort, "exclusions", None)
        prov = {
            "format_version": FORMAT_VERSION,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "data_hash": cohort.data_hash() if hasattr(cohort, "data_hash") else None,
            "sampler": settings,
            "sampling_seconds": round(float(seconds), 3),
            "versions": versions(),
            "n_persons_cohort": int(getattr(cohort, "n_persons", design.n_person)),
            "n_persons_model": int(design.n_person),
            "n_observed": int((~np.isnan(design.y)).sum()),
            "model_exclusions": design.exclusions.to_dict(orient="records"),
            "cohort_exclusions": (cohort_excl.to_dict(orient="records")
                                  if isinstance(cohort_excl, pd.DataFrame) else []),
        }
        fit = cls(model, design, tree, prov)
        fit.cohort = cohort
        fit._write_attrs()
        return fit

    def _write_attrs(self) -> None:
        self.tree.attrs["spec"] = json.dumps(self.model.spec(), default=json_default)
        self.tree.attrs["provenance"] = json.dumps(self.provenance, default=json_default)
        self.tree.attrs["dtors_bayes_format"] = FORMAT_VERSION

    # ------------------------------------------------------------------ views
    @property
    def outcome(self) -> str:
        """The modelled outcome."""
        return self.model.outcome

    @property
    def posterior(self) -> xr.Dataset:
        """The posterior group as a Dataset."""
        return self.tree["posterior"].to_dataset()

    def diagnostics(self) -> pd.DataFrame:
        """Convergence table (see :func:`dtors_bayes.models.diagnostics.diagnose`)."""
        return diagnose(self.tree)

    def problems(self) -> list[str]:
        """Failed convergence checks in plain words; empty when all pass."""
        from dtors_bayes.models.quadrature import quadrature_trouble

        return trouble(self.diagnostics()) + quadrature_trouble(self.tree)

    def warn_if_trouble(self) -> None:
        """Issue one ``UserWarning`` per failed convergence check."""
        for msg in self.problems():
            warnings.warn(f"{self.outcome}: {msg}", UserWarning, stacklevel=3)

    def summary(self, var_names: list[str] | None = None) -> pd.DataFrame:
        """ArviZ summary of the structural parameters (not the z offsets)."""
        import arviz as az

        post = self.posterior
        names = var_names or [v for v in post.data_vars if not is_offset(v)]
        return az.summary(post[names], ci_prob=CI_PROB, ci_kind="eti")

    def __repr__(self) -> str:
        s = self.provenance.get("sampler", {})
        return (f"Fit({self.outcome}, {self.model.family}, persons={self.design.n_person}, "
                f"chains={s.get('chains')}, draws={s.get('draws')}, "
                f"attrition={self.model.attrition_label})")

    # ------------------------------------------------------------------ analyses
    # ``estimate``, ``sensitivity`` and ``impute`` are analyses from higher rooms (estimands,
    # weighting, attrition). ``dtors_bayes/__init__.py`` binds them to this class from
    # :mod:`dtors_bayes.workflow.analyses`, the one place that dispatches them, so that
    # ``fit.estimate(...)`` works while ``models`` imports nothing above itself.

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the fit to a netCDF file (h5netcdf engine); returns the path."""
        path = Path(path)
        self._write_attrs()
        tmp = path.with_suffix(path.suffix + ".tmp")
        self.tree.to_netcdf(tmp, engine="h5netcdf")
        tmp.replace(path)
        return path
