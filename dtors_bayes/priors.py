"""Default priors of the change model, weakly informative on the response scale.

Every prior is Normal / HalfNormal with a *scale* chosen from the link and the outcome:

============================  ===================  ==================  =====================
parameter                     logit link           log link            identity link
============================  ===================  ==================  =====================
trajectory levels             N(logit pbar, 2.0)   N(log ybar, 1.5)    N(ybar, 2.5 sd_y)
modality effect (constant)    ZeroSumNormal(1.0)   ZeroSumNormal(1.0)  ZeroSumNormal(sd_y)
covariates (per sd / 0-1)     N(0, 1.0)            N(0, 1.0)           N(0, sd_y)
sigma_person                  HalfN(1.0)           HalfN(1.0)          HalfN(sd_y)
sigma_site, sigma_area        HalfN(0.5)           HalfN(0.5)          HalfN(0.5 sd_y)
random change sds             HalfN(0.5)           HalfN(0.5)          HalfN(0.5 sd_y)
============================  ===================  ==================  =====================

On the logit scale the level prior is centred on the logit of the observed proportion
(``pbar``: the mean of y, divided by the trials for binomial outcomes) with sd 2.0, wide
enough for the conditional (u_i = 0) levels of a random-intercept model. Every trajectory
coefficient is a *level* (at a wave, or at a knot month; see :mod:`dtors_bayes.time_basis`),
so all get the level prior and no prior is placed on slopes as such.
Users override any scale by name: ``ChangeModel(..., priors={"sigma_person": 0.5})``; the
positive part of a hurdle uses the same names prefixed ``pos_``.
"""

from __future__ import annotations

import numpy as np

PRIOR_NAMES = (
    "level_loc", "level", "modality", "covariate", "sigma_person",
    "sigma_site", "sigma_area", "sigma_change",
)


def default_priors(link: str, y: np.ndarray) -> dict[str, float]:
    """Prior locations/scales for one linear predictor with link ``link`` and data ``y``."""
    y = np.asarray(y, dtype=float)
    y = y[~np.isnan(y)]
    if link == "identity":
        ybar = float(y.mean()) if y.size else 0.0
        sd = float(y.std()) if y.size > 1 and y.std() > 0 else 1.0
        return {"level_loc": ybar, "level": 2.5 * sd, "modality": sd,
                "covariate": sd, "sigma_person": sd, "sigma_site": 0.5 * sd,
                "sigma_area": 0.5 * sd, "sigma_change": 0.5 * sd}
    if link == "log":
        ybar = float(y.mean()) if y.size else 1.0
        return {"level_loc": float(np.log(max(ybar, 1e-3))), "level": 1.5,
                "modality": 1.0, "covariate": 1.0, "sigma_person": 1.0, "sigma_site": 0.5,
                "sigma_area": 0.5, "sigma_change": 0.5}
    # logit link: centred on the observed proportion's logit. The level is *conditional* on
    # u_i = 0, which is more extreme than the marginal proportion when sigma_person is large,
    # so the scale is 2.0: a N(0, 1.5) prior measurably pulled small, low-prevalence cells
    # towards 0.5 (peer agreement with bambi; +0.012 bias in the recovery study).
    p = float(np.clip(y.mean(), 0.02, 0.98)) if y.size else 0.5
    return {"level_loc": float(np.log(p / (1 - p))), "level": 2.0, "modality": 1.0,
            "covariate": 1.0, "sigma_person": 1.0, "sigma_site": 0.5, "sigma_area": 0.5,
            "sigma_change": 0.5}


def aux_defaults(family: str, y: np.ndarray) -> dict[str, float]:
    """Scales of the auxiliary parameters (sigma of Gaussian/Student-t is the outcome's sd)."""
    y = np.asarray(y, dtype=float)
    y = y[~np.isnan(y)]
    if family in ("gaussian", "student_t"):
        return {"sigma": float(y.std()) if y.size > 1 and y.std() > 0 else 1.0}
    return {}
