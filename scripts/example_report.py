"""Write a report from the hand-made posterior of ``dtors_bayes.testing`` (no sampling).

Usage: ``.venv/bin/python scripts/example_report.py OUT_DIR``. The estimates get a
propagated-weighting twin (intervals 1.4 times as wide) and a pattern-mixture grid, so that
every findings statement has something to say; for looking at the layout, not the numbers.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pandas as pd


def example_report(out_dir: str | Path) -> Path:
    """Build the example report in ``out_dir``; returns its ``index.html``."""
    from dtors_bayes.attrition.pattern_mixture import sensitivity
    from dtors_bayes.reporting.report import write_report
    from dtors_bayes.testing import hand_posterior_fit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = hand_posterior_fit()
        est = fit.estimate()
        est.insert(0, "analysis", "y_mar")
        weighted = est.copy()
        weighted["weighting"], weighted["population"] = "propagated", "target"
        weighted["ci_lb"] = est["mean"] - 1.4 * (est["mean"] - est["ci_lb"])
        weighted["ci_ub"] = est["mean"] + 1.4 * (est["ci_ub"] - est["mean"])
        res = sensitivity(fit, deltas=[-2, -1, -0.5, 0, 0.5, 1, 2])
        sens = res.table[res.table["estimand"].isin(["change", "modality_contrast"])].copy()
        sens.insert(0, "analysis", "y_mar")
        weights = pd.DataFrame({"weights": ["calibration"], "kish_ess": [70.2], "max": [3.1]})
        return write_report(out_dir, cohort=None, fits=[fit], estimates=[est, weighted],
                            extra_tables={"sensitivity": sens, "weights": weights},
                            title="dtors_bayes example report (hand-made posterior)")


if __name__ == "__main__":
    print(example_report(sys.argv[1]))
