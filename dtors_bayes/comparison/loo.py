r"""PSIS-LOO and PSIS leave-one-group-out on the observed outcome cells (arviz-stats).

The pointwise log-likelihood ``log p(y_it | theta^(s))`` of every observed cell
(:func:`dtors_bayes.models.sampling.pointwise_log_likelihood`) is scored by Pareto-smoothed
importance sampling, with Pareto-k diagnostics:

.. math::

    \widehat{\mathrm{elpd}}_{\mathrm{loo}} = \sum_j \log
        \frac{\sum_s w_j^{(s)} p(y_j \mid \theta^{(s)})}{\sum_s w_j^{(s)}},
    \qquad w_j^{(s)} \approx \frac{1}{p(y_j \mid \theta^{(s)})} \text{ (Pareto-smoothed)}.

For the hierarchy, ``group="person"``, ``"site"`` or ``"area"`` leaves one group out: ``j``
runs over groups and each group's cells are summed first,
``log p(y_G | theta) = sum_{it in G} log p(y_it | theta)``. This is fast, but Pareto k is
often high for whole groups; the exact alternative is
:func:`dtors_bayes.comparison.kfold.kfold_by_group`.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from dtors_bayes.exceptions import FitError
from dtors_bayes.models.sampling import pointwise_log_likelihood


def _group_codes(fit, group: str | None) -> np.ndarray | None:
    d = fit.design
    p_idx, _ = d.observed_cells()
    if group is None:
        return None
    if group == "person":
        return p_idx
    codes = {"site": d.site, "area": d.area}.get(group)
    if codes is None:
        raise FitError(f"group={group!r}: the fit has no {group} level; allowed: person"
                       + ", site" * (d.site is not None) + ", area" * (d.area is not None))
    return codes[p_idx]


def loo(fit, *, group: str | None = None):
    """PSIS-LOO (``group=None``) or PSIS leave-one-group-out, as an arviz ``ELPDData``."""
    import arviz as az

    ll = pointwise_log_likelihood(fit)
    codes = _group_codes(fit, group)
    if codes is not None:
        uniq, inv = np.unique(codes, return_inverse=True)
        summed = np.zeros(ll.shape[:2] + (uniq.size,))
        np.add.at(summed, (slice(None), slice(None), inv), ll.values)
        ll = xr.DataArray(summed, dims=("chain", "draw", "obs"))
    tree = xr.DataTree.from_dict({
        "posterior": fit.tree["posterior"].to_dataset()[["sigma_person"]]
        if "sigma_person" in fit.posterior else fit.tree["posterior"].to_dataset(),
        "log_likelihood": xr.Dataset({"y": ll}),
    })
    return az.loo(tree, pointwise=True, var_name="y")
