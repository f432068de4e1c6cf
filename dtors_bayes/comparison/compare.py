r"""Comparison of fits of one outcome: PSIS-LOO with stacking weights, and its caveat.

:func:`compare` scores every fit by PSIS-LOO (or PSIS leave-one-group-out,
:func:`dtors_bayes.comparison.loo.loo`) and ranks them with arviz-stats ``compare``
(``method="stacking"``): the stacking weights ``w`` maximise
``sum_j log sum_m w_m p(y_j | y_-j, M_m)`` over the simplex. Each row also counts its cells
(or groups) with a high Pareto k.

MAR and MNAR models cannot be ranked by fit to the observed data: the observed-data
likelihood is the same whatever is assumed about the unobserved outcomes. Every comparison
result says so (``ComparisonResult.notes``) and points to the sensitivity analysis instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dtors_bayes.comparison.loo import loo
from dtors_bayes.exceptions import FitError

MAR_MNAR_NOTE = (
    "MAR and MNAR models cannot be ranked by their fit to the observed data: the observed-data "
    "likelihood does not depend on what is assumed about the outcomes of people who were not "
    "interviewed. Compare such models by their sensitivity results (fit.sensitivity, "
    "tipping points), not by LOO."
)












@dataclass
class ComparisonResult:
    """Output of :func:`compare`.

    Attributes
    ----------
    table : DataFrame
        arviz ``compare`` table (rank, elpd, p, elpd_diff, weight (stacking), se, dse, warning)
        plus ``n_pareto_k_high`` (cells or groups with Pareto k above ArviZ's threshold for
        the number of draws, at most 0.7) and ``attrition``.
    loos : dict
        The ``ELPDData`` per model.
    notes : list of str
        Plain statements to print with the table (the MAR/MNAR caveat always).
    """

    table: pd.DataFrame
    loos: dict
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.table.to_string() + "\n\n" + "\n".join(f"Note: {n}" for n in self.notes)


def compare(fits: dict, *, group: str | None = None) -> ComparisonResult:
    """Compare fits of the same outcome by PSIS-LOO (or PSIS leave-one-group-out).

    Parameters
    ----------
    fits : dict of str to Fit
        Models to compare; all must model the same outcome on the same persons.
    group : {None, "person", "site", "area"}
        Leave one observation out (None) or one group out.
    """
    import arviz as az

    if len(fits) < 2:
        raise FitError("compare needs two or more fits")
    outcomes = {f.outcome for f in fits.values()}
    if len(outcomes) > 1:
        raise FitError(f"compare needs fits of one outcome; got {sorted(outcomes)}")
    n_obs = {int((~np.isnan(f.design.y)).sum()) for f in fits.values()}
    if len(n_obs) > 1:
        raise FitError("compare needs fits on the same observed cells; the fits have "
                       f"{sorted(n_obs)} observed values")
    loos = {name: loo(f, group=group) for name, f in fits.items()}
    table = az.compare(loos, method="stacking")
    # ArviZ's threshold depends on the number of draws: min(1 - 1/log10(S), 0.7)
    table["n_pareto_k_high"] = [
        int((np.asarray(loos[n].pareto_k) > (loos[n].good_k or 0.7)).sum()) for n in table.index]
    table["attrition"] = [fits[n].model.attrition_label for n in table.index]
    notes = [MAR_MNAR_NOTE]
    if table["n_pareto_k_high"].sum():
        notes.append("Some Pareto k are high: PSIS estimates for those cells/groups are "
                     "unreliable; use kfold_by_group for an exact grouped comparison.")
    return ComparisonResult(table=table, loos=loos, notes=notes)


