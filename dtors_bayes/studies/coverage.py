"""Frequentist coverage studies over replicate simulated cohorts, run on Dask.

A study crosses *scenarios* (how cohorts are simulated) with *methods* (how they are
analysed) over ``replicates`` cohorts (:mod:`~dtors_bayes.studies.design`). Each task
simulates one cohort, runs one method and joins its estimates with the simulator's known
truth; the result (a few rows) is cached as a Parquet file keyed by a hash of the settings,
so a killed study resumes where it stopped (:mod:`~dtors_bayes.studies.execute`).

Seeds are keyed by ``(seed, scenario, replicate)``
(:func:`~dtors_bayes.studies.seeds.replicate_seeds`): the same replicate gets the same cohort
and sampler seed whatever the number of workers, the order tasks finish in, or which methods
are run. Every method of a replicate sees the same cohort (common random numbers).

Entry points: :func:`coverage_study` -> :class:`StudyResult` (``table``, ``summary()``,
``plot()``, ``write()``), :func:`summarize_coverage` (the arithmetic, on any results frame)
and :func:`~dtors_bayes.studies.files.run_study_file` (a TOML description; used by
``dtors-bayes study``).
"""

from __future__ import annotations

import contextlib
import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dtors_bayes._format import markdown_table, safe_name
from dtors_bayes.studies.design import CELL_KEYS, ESTIMAND_KEYS, Method, Scenario
from dtors_bayes.studies.execute import CACHE_VERSION, Task, dask_client, execute
from dtors_bayes.studies.seeds import json_default, replicate_seeds, settings_hash

__all__ = [
    "StudyResult",
    "add_coverage_columns",
    "converged",
    "coverage_study",
    "coverage_study_in_rounds",
    "join_truth",
    "select_estimands",
    "summarize_coverage",
    "write_study_outputs",
]


# ---------------------------------------------------------------------------- truth join
def _truth_wide(truth_estimands: pd.DataFrame) -> pd.DataFrame:
    """Truth with one column per population; contrasts in both orientations."""
    t = truth_estimands.copy()
    for col in ("modality", "contrast"):
        t[col] = t[col].fillna("").astype(str)
    t["wave"] = t["wave"].astype(int)
    con = t[t["contrast"] != ""].copy()
    if len(con):
        parts = con["contrast"].str.split(" - ", n=1, expand=True)
        con["contrast"] = parts[1] + " - " + parts[0]
        con["value"] = -con["value"]
        t = pd.concat([t, con[~con.set_index(ESTIMAND_KEYS + ["population"]).index.isin(
            t.set_index(ESTIMAND_KEYS + ["population"]).index)]], ignore_index=True)
    wide = t.pivot_table(index=ESTIMAND_KEYS, columns="population", values="value",
                         aggfunc="first")
    wide = wide.rename(columns={p: f"truth_{p}" for p in wide.columns}).reset_index()
    wide.columns.name = None
    for p in ("sample", "target"):
        if f"truth_{p}" not in wide:
            wide[f"truth_{p}"] = np.nan
    return wide


def join_truth(estimates: pd.DataFrame, truth_estimands: pd.DataFrame) -> pd.DataFrame:
    """Estimates joined with the simulator's truth (``truth_sample``, ``truth_target``).

    Estimands without a known truth are dropped. A contrast ``A - B`` whose truth is stored
    as ``B - A`` takes the negated value.
    """
    est = estimates.copy()
    for col in ("modality", "contrast"):
        est[col] = est[col].fillna("").astype(str) if col in est else ""
    est["wave"] = est["wave"].astype(int)
    out = est.merge(_truth_wide(truth_estimands), on=ESTIMAND_KEYS, how="inner")
    return out


RESULT_COLUMNS = [
    "scenario", "method", "replicate", "sim_seed", "fit_seed", *ESTIMAND_KEYS,
    "mean", "ci_lb", "ci_ub", "ci50_lb", "ci50_ub", "truth_sample", "truth_target",
    "r_hat_max", "divergences", "ess_bulk_min", "seconds",
]
#: Labels of the estimate kept when the method's table has them (``population`` is renamed
#: ``estimated_population``: the ``population`` column says which truth is scored).
LABEL_COLUMNS = ["estimated_population", "weighting", "estimator", "attrition"]
#: A method's own columns starting with this prefix are kept too (e.g. a selection model's
#: kappa posterior summary, ``extra_kappa_mean``).
EXTRA_PREFIX = "extra_"
#: A fit counts as converged when its worst structural R-hat is at most this and it had no
#: divergent transition.
CONVERGED_R_HAT = 1.01


def _replicate_task(scenario: Scenario, method: Method, replicate: int, seed: int
                    ) -> pd.DataFrame:
    """One (scenario, method, replicate): simulate, analyse, join with truth (on a worker)."""
    t0 = time.perf_counter()
    sim_seed, fit_seed = replicate_seeds(seed, scenario.name, replicate)
    sim = scenario.simulate(sim_seed)
    est = method.run(sim.cohort, fit_seed, sim)
    est = est.rename(columns={"population": "estimated_population"})
    rows = join_truth(est, sim.truth.estimands)
    rows["scenario"] = scenario.name
    rows["method"] = method.name
    rows["replicate"] = int(replicate)
    rows["sim_seed"] = sim_seed
    rows["fit_seed"] = fit_seed
    rows["seconds"] = time.perf_counter() - t0
    for col in RESULT_COLUMNS:
        if col not in rows:
            rows[col] = np.nan
    labels = [c for c in LABEL_COLUMNS if c in rows]
    extra = [c for c in rows.columns if str(c).startswith(EXTRA_PREFIX)]
    return rows[RESULT_COLUMNS + labels + extra].reset_index(drop=True)














# ---------------------------------------------------------------------------- estimand selection
EstimandFilter = Sequence[Any] | Callable[[pd.DataFrame], Any] | None


def select_estimands(table: pd.DataFrame, estimands: EstimandFilter) -> pd.DataFrame:
    """Rows of ``table`` matching ``estimands``.

    Parameters
    ----------
    estimands : None, callable, or sequence of tuples / dicts
        ``None``: all. A callable: ``f(table) -> boolean mask``. Tuples are
        ``(outcome, estimand, wave, contrast[, modality])`` with ``None`` (or a shorter
        tuple) as a wildcard; dicts name any of ``outcome, estimand, wave, modality,
        contrast``.
    """
    if estimands is None:
        return table
    if callable(estimands):
        return table[np.asarray(estimands(table), dtype=bool)]
    order = ["outcome", "estimand", "wave", "contrast", "modality"]
    keep = np.zeros(len(table), dtype=bool)
    for spec in estimands:
        d = dict(spec) if isinstance(spec, dict) else dict(zip(order, spec, strict=False))
        unknown = set(d) - set(order)
        if unknown:
            raise ValueError(f"estimand filter {spec!r}: unknown keys {sorted(unknown)}")
        m = np.ones(len(table), dtype=bool)
        for k, v in d.items():
            if v is None:
                continue
            col = table[k]
            m &= (col.astype(int) == int(v)).to_numpy() if k == "wave" else \
                (col.astype(str) == str(v)).to_numpy()
        keep |= m
    return table[keep]


# ---------------------------------------------------------------------------- summaries
def add_coverage_columns(table: pd.DataFrame, population: str = "sample") -> pd.DataFrame:
    """Add ``population, truth, error, width90, width50, covered90, covered50``.

    ``covered`` is NaN where the interval is missing.
    """
    if population not in ("sample", "target"):
        raise ValueError(f"population={population!r}; allowed: 'sample', 'target'")
    t = table.copy()
    t["population"] = population
    t["truth"] = t[f"truth_{population}"]
    t["error"] = t["mean"] - t["truth"]
    t["width90"] = t["ci_ub"] - t["ci_lb"]
    t["width50"] = t["ci50_ub"] - t["ci50_lb"]
    for lvl, (lo, hi) in (("90", ("ci_lb", "ci_ub")), ("50", ("ci50_lb", "ci50_ub"))):
        cov = ((t[lo] <= t["truth"]) & (t["truth"] <= t[hi])).astype(float)
        cov[t[lo].isna() | t[hi].isna() | t["truth"].isna()] = np.nan
        t[f"covered{lvl}"] = cov
    return t


def converged(table: pd.DataFrame) -> pd.Series:
    """Per row: did its fit converge (worst structural R-hat <= 1.01, no divergence)?

    Rows of methods without a sampler (``r_hat_max`` NaN, e.g. complete cases) count as
    converged, so that a converged-only summary keeps them whole.
    """
    rh = pd.to_numeric(table["r_hat_max"], errors="coerce") if "r_hat_max" in table else \
        pd.Series(np.nan, index=table.index)
    dv = pd.to_numeric(table["divergences"], errors="coerce").fillna(0) \
        if "divergences" in table else pd.Series(0.0, index=table.index)
    return rh.isna() | ((rh <= CONVERGED_R_HAT) & (dv == 0))


def summarize_coverage(table: pd.DataFrame, by: Sequence[str] | None = None, *,
                       converged_only: bool = False) -> pd.DataFrame:
    """Bias, RMSE, coverage (90% and 50%) with Monte Carlo standard errors, per cell.

    With ``converged_only=True`` only the replicates whose fit converged (:func:`converged`)
    are scored: a coverage figure from chains that did not converge is not evidence. The
    selection on convergence can itself bias a cell when convergence depends on the data, so
    both summaries are reported side by side.

    Parameters
    ----------
    table : DataFrame
        Rows with ``mean, truth, covered90, covered50, width90, width50`` (see
        :func:`add_coverage_columns`) and the grouping columns.
    by : list of str, optional
        Grouping columns; defaults to scenario, method and the estimand keys present.

    Returns
    -------
    DataFrame
        Per cell: ``n_reps, truth (mean over replicates), bias, bias_mcse (sd of the error /
        sqrt n), rmse, coverage90, coverage90_mcse, coverage50, coverage50_mcse
        (sqrt(p(1-p)/n)), width90, width50, r_hat_max, n_divergent_reps,
        share_converged`` (replicates whose worst structural R-hat <= 1.01 with no
        divergence; NaN for methods without a sampler).
    """
    by = list(by) if by is not None else [c for c in CELL_KEYS if c in table]
    if converged_only:
        table = table[converged(table)]
    rows = []
    for key, g in table.groupby(by, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        err = (g["mean"] - g["truth"]).to_numpy(dtype=float)
        n = int(np.isfinite(err).sum())
        rec = dict(zip(by, key, strict=True))
        rec["n_reps"] = n
        rec["truth"] = float(g["truth"].mean())
        rec["bias"] = float(np.nanmean(err)) if n else np.nan
        rec["bias_mcse"] = float(np.nanstd(err, ddof=1) / np.sqrt(n)) if n > 1 else np.nan
        rec["rmse"] = float(np.sqrt(np.nanmean(err**2))) if n else np.nan
        for lvl in ("90", "50"):
            c = g[f"covered{lvl}"].to_numpy(dtype=float) if f"covered{lvl}" in g else \
                np.full(len(g), np.nan)
            c = c[np.isfinite(c)]
            p = float(c.mean()) if c.size else np.nan
            rec[f"coverage{lvl}"] = p
            rec[f"coverage{lvl}_mcse"] = float(np.sqrt(p * (1 - p) / c.size)) if c.size \
                else np.nan
            w = f"width{lvl}"
            rec[w] = float(g[w].mean()) if w in g else np.nan
        rec["r_hat_max"] = float(g["r_hat_max"].max()) if "r_hat_max" in g else np.nan
        rec["n_divergent_reps"] = int((g["divergences"] > 0).sum()) if "divergences" in g \
            else 0
        sampled = (pd.to_numeric(g["r_hat_max"], errors="coerce").notna() if "r_hat_max" in g
                   else pd.Series(False, index=g.index))
        rec["share_converged"] = float(converged(g)[sampled].mean()) if sampled.any() \
            else np.nan
        rows.append(rec)
    return pd.DataFrame(rows)


def _label(r: Any) -> str:
    s = f"{r.outcome}: {r.estimand} w{int(r.wave)}"
    if r.modality:
        s += f" [{r.modality}]"
    if r.contrast:
        s += f" [{r.contrast}]"
    return s


@dataclass
class StudyResult:
    """Result of :func:`coverage_study`.

    Attributes
    ----------
    table : DataFrame
        One row per (scenario, method, replicate, estimand) with estimates, truth, the
        chosen ``population``'s ``truth``, ``error``, widths, ``covered90``/``covered50``
        and convergence figures (``r_hat_max``, ``divergences``).
    population : str
        Which truth the intervals are scored against (``"sample"`` or ``"target"``).
    n_computed, n_cached : int
        Tasks run now, and read from the cache.
    failures : list of (key, error)
        Tasks that raised (not cached; a rerun retries them).
    settings : dict
        The study's settings.
    """

    table: pd.DataFrame
    population: str
    n_computed: int = 0
    n_cached: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def summary(self, converged_only: bool = False) -> pd.DataFrame:
        """Per (scenario, method, estimand): see :func:`summarize_coverage`."""
        return summarize_coverage(self.table, converged_only=converged_only)

    def plot(self, z: float = 1.96):
        """Coverage (90% and 50%) per estimand and method, with +-z MCSE bars and nominal lines.

        Returns
        -------
        matplotlib.figure.Figure
        """
        import matplotlib
        from matplotlib.figure import Figure

        s = self.summary()
        scenarios = list(dict.fromkeys(s["scenario"])) if len(s) else [""]
        methods = list(dict.fromkeys(s["method"])) if len(s) else []
        labels = list(dict.fromkeys(_label(r) for r in s.itertuples())) if len(s) else []
        height = max(2.5, 0.32 * len(labels) + 1.2)
        # a bare Figure (no pyplot state, no backend switch): savefig works, notebooks show it
        fig = Figure(figsize=(11, height * len(scenarios)))
        axes = fig.subplots(len(scenarios), 2, squeeze=False, sharex="col")
        colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
        step = 0.7 / max(1, len(methods))
        for i, sc in enumerate(scenarios):
            for j, (lvl, nominal) in enumerate((("90", 0.90), ("50", 0.50))):
                ax = axes[i, j]
                ax.axvline(nominal, color="0.3", ls="--", lw=1)
                for k, m in enumerate(methods):
                    g = s[(s["scenario"] == sc) & (s["method"] == m)]
                    y = np.array([labels.index(_label(r)) for r in g.itertuples()], float)
                    y += (k - (len(methods) - 1) / 2) * step
                    ax.errorbar(g[f"coverage{lvl}"], y, xerr=z * g[f"coverage{lvl}_mcse"],
                                fmt="o", ms=4, capsize=2, color=colors[k % len(colors)],
                                label=m if (i == 0 and j == 0) else None)
                ax.set_yticks(range(len(labels)))
                ax.set_yticklabels(labels if j == 0 else [""] * len(labels), fontsize=8)
                ax.set_ylim(len(labels) - 0.5, -0.5)
                ax.set_xlim(-0.02, 1.02)
                n = int(s[s["scenario"] == sc]["n_reps"].max()) if len(s) else 0
                ax.set_title(f"{sc}: {lvl}% interval coverage (n={n}; bars +-{z:g} MCSE)",
                             fontsize=9)
                ax.grid(axis="x", alpha=0.3)
        if methods:
            axes[0, 0].legend(fontsize=8, loc="lower left")
        for ax in axes[-1]:
            ax.set_xlabel(f"coverage of the {self.population} truth")
        fig.tight_layout()
        return fig

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write ``table.csv``, ``summary.csv``, ``summary.md`` and ``coverage.png``."""
        s = self.summary()
        st = self.settings
        head = [f"# Coverage study{': ' + st['name'] if st.get('name') else ''}", "",
                f"Truth: `{self.population}` population. Intervals: 90% and 50% "
                "equal-tailed. MCSE of coverage = sqrt(p(1-p)/n); of bias = sd(error)/sqrt(n).",
                f"Replicates: {st.get('replicates')}; seed {st.get('seed')}; tasks computed "
                f"{self.n_computed}, cached {self.n_cached}, failed {len(self.failures)}.", ""]
        cols = [c for c in ["scenario", "method", "outcome", "estimand", "wave", "modality",
                            "contrast", "n_reps", "truth", "bias", "rmse", "coverage90",
                            "coverage90_mcse", "coverage50", "coverage50_mcse", "width90",
                            "r_hat_max", "n_divergent_reps", "share_converged"] if c in s]
        sc = self.summary(converged_only=True)
        tail = ["", "## Converged fits only", "",
                "Replicates whose fit reached structural R-hat <= 1.01 with no divergent "
                "transition (methods without a sampler: all replicates).", "",
                markdown_table(sc[[c for c in cols if c in sc]], ".3f")]
        tail += (["", "## Failed tasks", ""] + [f"- `{k}`: {e}" for k, e in self.failures]
                 if self.failures else [])
        return write_study_outputs(out_dir, ["table.csv", "summary.csv", "summary.md",
                                             "coverage.png"], self.table, s, s[cols],
                                   head, tail, self.plot)


def write_study_outputs(out_dir: str | Path, names: Sequence[str], table: pd.DataFrame,
                        summary: pd.DataFrame, shown: pd.DataFrame, head: list[str],
                        tail: list[str], plot: Callable[[], Any]) -> list[Path]:
    """The four files of a study: rows CSV, summary CSV, summary Markdown and a figure.

    ``names`` are the four file names; the Markdown is ``head``, ``shown`` as a pipe table,
    then ``tail``; ``plot()`` returns the figure (saved at 110 dpi). Shared by coverage
    studies and SBC.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / n for n in names]
    table.to_csv(paths[0], index=False)
    summary.to_csv(paths[1], index=False)
    lines = [*head, markdown_table(shown, ".3f") if len(shown) else "(no rows)", *tail]
    paths[2].write_text("\n".join(lines) + "\n")
    plot().savefig(paths[3], dpi=110)
    return paths


# ---------------------------------------------------------------------------- the study
def coverage_study(
    scenarios: Sequence[Scenario],
    methods: Sequence[Method],
    replicates: int,
    *,
    estimands: EstimandFilter = None,
    population: str = "sample",
    cache_dir: str | Path | None = None,
    scheduler: Any = None,
    n_workers: int | None = None,
    seed: int = 0,
    progress: bool = True,
    name: str = "",
    only_cached: bool = False,
) -> StudyResult:
    """Frequentist coverage of methods' intervals over replicate simulated cohorts.

    Parameters
    ----------
    scenarios : list of Scenario
    methods : list of Method
    replicates : int
        Cohorts per scenario (replicate indices ``0 .. replicates-1``; raising it later
        reuses the cached ones).
    estimands : filter, optional
        Which estimands to keep (:func:`select_estimands`); all with a known truth when None.
        Applied after caching: changing it needs no refit.
    population : {"sample", "target"}
        The truth intervals are scored against: the recruited persons' average (what an
        unweighted model estimates) or the target population's (needs weighting).
        Applied after caching.
    cache_dir : str or Path, optional
        One Parquet file per (scenario, method, replicate), named by a hash of the settings
        that produce it; existing files are reused (resume after a kill).
    scheduler : None, str, Client or "sync"
        See :func:`dask_client`; ``"sync"`` runs in this process.
    n_workers : int, optional
        Local cluster size; defaults to the machine's CPUs.
    seed : int
        Study seed (:func:`replicate_seeds`).
    progress : bool
        Progress bar over completed tasks.
    name : str
        Label written with the results.
    only_cached : bool
        Compute nothing: summarise the tasks the cache holds (a running study's progress).

    Returns
    -------
    StudyResult
    """
    names = [s.name for s in scenarios]
    mnames = [m.name for m in methods]
    for kind, ns in (("scenario", names), ("method", mnames)):
        if len(set(ns)) != len(ns):
            raise ValueError(f"{kind} names must be unique; got {ns}")
    cache = Path(cache_dir) if cache_dir is not None else None
    tasks = []
    for sc in scenarios:
        for me in methods:
            for r in range(int(replicates)):
                h = settings_hash({"v": CACHE_VERSION, "scenario": sc.key(),
                                   "method": me.key(), "replicate": r, "seed": int(seed)})
                key = f"{sc.name}__{me.name}__r{r:04d}__{h}"
                path = cache / (f"{safe_name(sc.name)}__{safe_name(me.name)}__r{r:04d}__{h}"
                                ".parquet") if cache is not None else None
                tasks.append(Task(key, _replicate_task, (sc, me, r, int(seed)), path))
    ex = execute(tasks, scheduler=scheduler, n_workers=n_workers, progress=progress,
                 desc="coverage study", only_cached=only_cached)
    frames = [f for f in ex.frames if len(f)]
    raw = pd.concat(frames, ignore_index=True) if frames else \
        pd.DataFrame(columns=RESULT_COLUMNS)
    for col in ("modality", "contrast"):
        raw[col] = raw[col].fillna("").astype(str)
    raw = raw.sort_values(["scenario", "method", "replicate", *ESTIMAND_KEYS],
                          key=lambda c: c.map(_order(names, mnames, c.name)), kind="stable")
    raw = select_estimands(raw.reset_index(drop=True), estimands)
    table = add_coverage_columns(raw, population).reset_index(drop=True)
    for msg in ex.failures:
        warnings.warn(f"coverage study task failed: {msg[0]}: {msg[1]}", UserWarning,
                      stacklevel=2)
    settings = {"name": name, "scenarios": [s.key() for s in scenarios],
                "methods": [m.key() for m in methods], "replicates": int(replicates),
                "seed": int(seed), "population": population}
    return StudyResult(table, population, ex.n_computed, ex.n_cached, ex.failures,
                       json.loads(json.dumps(settings, default=json_default)))


def coverage_study_in_rounds(
    scenarios: Sequence[Scenario],
    methods: Sequence[Method],
    replicates: int,
    *,
    step: int = 5,
    minutes: float | None = None,
    scheduler: Any = None,
    n_workers: int | None = None,
    only_cached: bool = False,
    echo: Callable[[str], Any] | None = print,
    **kwargs: Any,
) -> StudyResult:
    """:func:`coverage_study` grown ``step`` replicates at a time over every cell.

    One Dask cluster serves every round; the cache makes each round compute only its new
    replicates, so a run stopped by ``minutes`` (checked between rounds) or killed leaves
    (nearly) equal replicate counts in every (scenario, method) cell. ``only_cached=True``
    returns what the cache holds for ``replicates`` without computing. Other keyword
    arguments go to :func:`coverage_study`.
    """
    if only_cached:
        return coverage_study(scenarios, methods, replicates, only_cached=True, **kwargs)
    if step < 1:
        raise ValueError(f"step must be >= 1; got {step}")
    t0 = time.perf_counter()
    clients = contextlib.nullcontext("sync") if scheduler == "sync" else \
        dask_client(scheduler, n_workers)
    with clients as client:
        n = 0
        while True:
            n = min(int(replicates), n + int(step))
            res = coverage_study(scenarios, methods, n, scheduler=client, **kwargs)
            if echo is not None:
                echo(f"{n} replicates per cell after {time.perf_counter() - t0:.0f} s "
                     f"(computed {res.n_computed}, cached {res.n_cached})")
            if n >= replicates or (minutes is not None
                                   and time.perf_counter() - t0 > 60 * minutes):
                return res


def _order(scenarios: list[str], methods: list[str], column: str) -> Callable[[Any], Any]:
    if column == "scenario":
        return lambda v: scenarios.index(v) if v in scenarios else len(scenarios)
    if column == "method":
        return lambda v: methods.index(v) if v in methods else len(methods)
    return lambda v: v








