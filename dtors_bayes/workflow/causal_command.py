"""``dtors-bayes causal``: what the adjusted modality contrasts of a saved fit assume and how
much it would take to overturn them, thin over :mod:`dtors_bayes.causal` (no refit).

The command reads a saved change-model fit and writes, to the output folder:

- ``causal_evalues.csv``: E-values of the marginal risk ratios
  (:func:`dtors_bayes.causal.evalues.evalues`; skipped with a note for outcomes without a
  risk ratio, e.g. identity-link ones);
- ``causal_grid.csv``: each contrast over a grid of confounding strengths
  (:func:`dtors_bayes.causal.confounding.confounding_grid`);
- ``causal_tipping_points.csv``: :func:`dtors_bayes.causal.confounding.tipping_points`;
- ``causal_budget.csv`` and ``causal_budget.png``: the joint bias budget over strength x
  pattern-mixture delta (:func:`dtors_bayes.causal.budget.bias_budget`) and its heatmap
  (:func:`dtors_bayes.causal.plots.budget_heatmap`);
- ``causal.json``: scores, strengths, deltas, wave and figure captions, which
  :func:`load_results` reads back for ``dtors-bayes report --causal``.

Options: ``--scores residential=-1,psychosocial=0.5`` (default ``residential=-1`` when the fit
has residential), ``--strengths`` and ``--deltas`` as comma lists or ``FROM:TO:N`` grids
(write ``--deltas=-1,0,1`` with ``=`` when the list starts with a minus sign).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dtors_bayes.exceptions import DtorsError, FitError, SpecError
from dtors_bayes.workflow.outputs import read_outputs, write_outputs

TABLES = ("evalues", "grid", "tipping_points", "budget")
DEFAULT_DELTAS = (-1.0, -0.5, 0.0, 0.5, 1.0)
#: Default grids, in units of the outcome's scale (1 for risks).
GRID_STRENGTHS = np.linspace(-0.2, 0.2, 41)
BUDGET_STRENGTHS = np.linspace(-0.2, 0.2, 9)
BUDGET_FIGURE = ("budget", "Bias budget: P(contrast < 0) over the confounding strength "
                 "(response scale) and the pattern-mixture delta of the non-responders")


def parse_scores(text: str | None, labels: list[str]) -> dict[str, float]:
    """``"residential=-1,psychosocial=0.5"`` as ``{modality: score}`` (checked)."""
    if text is None:
        if "residential" in labels:
            return {"residential": -1.0}
        raise SpecError("--scores is required: the fit has no residential modality; "
                        f"modalities: {', '.join(labels)}")
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, val = part.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(val)
        except ValueError:
            raise SpecError(f"--scores {text!r}: expected MODALITY=SCORE[,...], e.g. "
                            "residential=-1") from None
    bad = sorted(set(out) - set(labels))
    if bad:
        raise SpecError(f"--scores names modalities not in the fit: {', '.join(bad)}; "
                        f"modalities: {', '.join(labels)}")
    if not out:
        raise SpecError("--scores is empty; expected MODALITY=SCORE[,...]")
    return out


def parse_grid(text: str | None, what: str, default) -> np.ndarray:
    """A comma list (``-1,0,1``) or ``FROM:TO:N`` as a float array (``default`` if None)."""
    if text is None:
        return np.asarray(default, dtype=float)
    try:
        if ":" in text:
            lo, hi, n = text.split(":")
            if int(n) < 1:
                raise ValueError
            grid = np.linspace(float(lo), float(hi), int(n))
        else:
            grid = np.array([float(x) for x in text.split(",") if x.strip()])
    except ValueError:
        raise SpecError(f"--{what} {text!r}: expected a comma list (-0.1,0,0.1) or "
                        "FROM:TO:N") from None
    if grid.size == 0 or not np.isfinite(grid).all():
        raise SpecError(f"--{what} {text!r}: expected finite numbers")
    return grid


def run_causal(fit, scores: dict[str, float], *, strengths=None, budget_strengths=None,
               deltas=DEFAULT_DELTAS, wave: int | None = None, contrasts: str = "reference",
               reference: str | None = None, shares=None,
               note: Callable[[str], None] = print) -> dict[str, Any]:
    """The causal tables and the budget figure of one fit (no refit).

    Returns
    -------
    dict
        ``tables`` (name -> DataFrame), ``figures`` (name, Figure, caption) and ``meta``.
    """
    from dtors_bayes.causal.budget import bias_budget
    from dtors_bayes.causal.confounding import confounding_grid, outcome_scale, tipping_points
    from dtors_bayes.causal.evalues import evalues
    from dtors_bayes.causal.plots import budget_heatmap

    if len(fit.design.modality_labels) < 2:
        raise FitError("dtors-bayes causal needs a fit with two or more modalities")
    scale = outcome_scale(fit)
    grid_s = GRID_STRENGTHS * scale if strengths is None else np.asarray(strengths, float)
    budget_s = (grid_s if strengths is not None else BUDGET_STRENGTHS * scale) \
        if budget_strengths is None else np.asarray(budget_strengths, float)
    kw = {"wave": wave, "contrasts": contrasts, "reference": reference, "shares": shares}
    tables = {}
    try:
        tables["evalues"] = evalues(fit, wave, contrasts=contrasts, reference=reference)
    except FitError as err:
        note(f"E-values skipped: {err}")
    grid = confounding_grid(fit, scores, grid_s, **kw)
    tables["grid"] = grid
    tables["tipping_points"] = tipping_points(grid)
    budget = bias_budget(fit, scores, budget_s, np.asarray(deltas, float), **kw)
    tables["budget"] = budget
    fig = budget_heatmap(budget)
    meta = {"outcome": fit.outcome, "wave": int(grid["wave"].iloc[0]) if len(grid) else wave,
            "scores": scores, "strengths": [float(x) for x in grid_s],
            "budget_strengths": [float(x) for x in budget_s],
            "deltas": [float(x) for x in deltas], "contrasts": contrasts,
            "reference": reference, "figures": [[BUDGET_FIGURE[0], BUDGET_FIGURE[1]]],
            "modality_pooling": fit.model.modality_pooling if fit.model.modality_by_time
            else None}
    return {"tables": tables, "figures": [(BUDGET_FIGURE[0], fig, BUDGET_FIGURE[1])],
            "meta": meta}


def write_results(res: dict[str, Any], out: str | Path) -> list[Path]:
    """Write the tables (CSV), the figure (PNG) and ``causal.json`` to ``out``."""
    return write_outputs(res, out, table_prefix="causal_", figure_prefix="causal_",
                         meta_name="causal.json")


def report_results(res: dict[str, Any]):
    """The report's view (:class:`dtors_bayes.reporting.causal_section.CausalResults`)."""
    from dtors_bayes.reporting.causal_section import CausalResults

    m = res["meta"]
    return CausalResults(tables=dict(res["tables"]), figures=list(res["figures"]),
                         scores=dict(m.get("scores", {})), outcome=m.get("outcome", ""),
                         wave=m.get("wave"), modality_pooling=m.get("modality_pooling"))


def load_results(folder: str | Path):
    """Read a ``causal`` output folder back as the report's view (PNG figures)."""
    return report_results(read_outputs(folder, tables=TABLES, table_prefix="causal_",
                                       figure_prefix="causal_", meta_name="causal.json",
                                       command="causal"))


def demo_results(fits, note: Callable[[str], None] = print):
    """The demo report's causal section: the first fit with a risk (Bernoulli) outcome and two
    or more modalities, on a coarse grid (21 strengths in +-0.1, budget 9 strengths in +-0.08
    x deltas -1, 0, 1: about 20 s for 4000 draws x 1796 persons); None if there is none.
    Scores: prescribing +1 (entrenched offenders select into prescribing) and residential -1
    (healthier selection into residential), where present. No refit."""
    fit = next((f for f in fits if f.model.family == "bernoulli"
                and len(f.design.modality_labels) > 1), None)
    if fit is None:
        return None
    labels = list(fit.design.modality_labels)
    scores = {m: v for m, v in (("prescribing", 1.0), ("residential", -1.0)) if m in labels}
    scores = scores or {labels[-1]: -1.0}
    try:
        res = run_causal(fit, scores, strengths=np.linspace(-0.1, 0.1, 21),
                         budget_strengths=np.linspace(-0.08, 0.08, 9), deltas=(-1.0, 0.0, 1.0),
                         note=note)
    except (DtorsError, ValueError) as err:
        note(f"causal section skipped: {err}")
        return None
    return report_results(res)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``dtors-bayes causal``."""
    p.add_argument("--fit", required=True, metavar="FIT", help="a saved fit (.nc)")
    p.add_argument("--data", required=True,
                   help="the data the fit was made from (checked by hash; the report's cohort "
                        "sections)")
    p.add_argument("--out", required=True, help="output folder (tables, figure)")
    p.add_argument("--scores", default=None, metavar="M=S[,...]",
                   help="modality scores of the confounding function, e.g. residential=-1 "
                        "(healthier selection into residential; default when present)")
    p.add_argument("--strengths", default=None, metavar="LIST|FROM:TO:N",
                   help="confounding strengths on the response scale (default -0.2:0.2:41 "
                        "times the outcome's scale; the budget uses 9 of them); write "
                        "--strengths=-0.1,0,0.1 when it starts with a minus")
    p.add_argument("--deltas", default=None, metavar="LIST|FROM:TO:N",
                   help="pattern-mixture deltas of the budget (default -1,-0.5,0,0.5,1)")
    p.add_argument("--wave", type=int, default=None, help="follow-up wave (default the last)")
    p.add_argument("--contrasts", choices=("reference", "pairs"), default="reference",
                   help="modality contrasts (default: %(default)s)")
    p.add_argument("--reference", default=None, help="reference modality")
    p.add_argument("--report", nargs="?", const="", default=None, metavar="DIR",
                   help="also write an HTML report (default folder: OUT/report)")


def cmd_causal(args: argparse.Namespace, *, load_data: Callable, estimate: Callable,
               say: Callable[[str], None] = print) -> int:
    """Run ``dtors-bayes causal`` (``load_data`` and ``estimate`` come from the CLI)."""
    import sys

    from dtors_bayes.models.io import load_fit
    from dtors_bayes.reporting.causal_section import pooling_finding

    if not Path(args.fit).exists():
        raise FileNotFoundError(f"fit {args.fit!r}: no such file")
    cohort = load_data(args.data)
    fit = load_fit(args.fit, cohort)
    scores = parse_scores(args.scores, list(fit.design.modality_labels))
    strengths = parse_grid(args.strengths, "strengths", [])
    deltas = parse_grid(args.deltas, "deltas", DEFAULT_DELTAS)
    try:
        res = run_causal(fit, scores, strengths=strengths if strengths.size else None,
                         deltas=deltas, wave=args.wave, contrasts=args.contrasts,
                         reference=args.reference,
                         note=lambda s: print(f"dtors-bayes: note: {s}", file=sys.stderr))
    except DtorsError:
        raise
    except (ValueError, KeyError, IndexError) as err:
        raise FitError(f"causal analysis of {fit.outcome} failed: {err}") from None
    written = write_results(res, args.out)
    say(f"causal sensitivity of {fit.outcome} (scores {res['meta']['scores']}): "
        f"{len(written)} files written to {args.out}")
    tips = res["tables"]["tipping_points"]
    for _, r in tips.iterrows():
        def at(v: float) -> str:
            return f"{v:.4g}" if np.isfinite(v) else "no strength in the grid"

        say(f"  {r['contrast']}: {r['estimate_at_0']:+.4g} at strength 0; mean reaches 0 at "
            f"{at(r['tip_mean'])}, the interval at {at(r['tip_interval'])}")
    pooled = pooling_finding(res["meta"]["modality_pooling"])
    if pooled is not None:
        say(f"  {pooled.text}")
    if args.report is not None:
        from dtors_bayes.reporting.report import write_report

        index = write_report(Path(args.report) if args.report else Path(args.out) / "report",
                             cohort=cohort, fits=[fit], estimates=[estimate(fit, cohort)],
                             causal=report_results(res),
                             title=f"dtors_bayes causal comparisons: {fit.outcome}")
        say(f"report written to {index}")
    return 0
