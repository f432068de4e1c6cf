"""Coverage studies and SBC: arithmetic on known inputs, seeds, caching, and one tiny study."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from dtors_bayes.studies.coverage import (
    add_coverage_columns,
    converged,
    coverage_study,
    coverage_study_in_rounds,
    join_truth,
    select_estimands,
    summarize_coverage,
)
from dtors_bayes.studies.design import Method, Scenario, cohort_kwargs, estimates_with_intervals
from dtors_bayes.studies.execute import Execution
from dtors_bayes.studies.files import read_study_file
from dtors_bayes.studies.sbc import sbc_study
from dtors_bayes.studies.sbc_design import frozen_priors
from dtors_bayes.studies.sbc_ranks import (
    pit_values,
    rank_statistic,
    summarize_ranks,
    uniformity_test,
)
from dtors_bayes.studies.seeds import key_name, replicate_seeds

OUTCOME = "acquisitive_crime"
TINY_SCENARIO = Scenario("mar", {"n_persons": 150, "n_sites": 20, "n_areas": 5,
                                 "attrition": "mar", "outcomes": [OUTCOME]})
TINY_METHOD = Method("change_model", {"outcome": OUTCOME, "time": "months"}, {},
                     {"draws": 40, "tune": 60, "chains": 2})
ESTIMANDS = [(OUTCOME, "level", 2), (OUTCOME, "change", 2, "")]


# ---------------------------------------------------------------------------- seeds
def test_replicate_seeds_depend_only_on_seed_scenario_replicate():
    a = [replicate_seeds(7, "mar", r) for r in range(5)]
    # reverse order (what a different worker count / completion order would do)
    b = [replicate_seeds(7, "mar", r) for r in reversed(range(5))][::-1]
    assert a == b
    assert len({s for pair in a for s in pair}) == 10  # all distinct
    assert replicate_seeds(7, "mnar", 0) != a[0]
    assert replicate_seeds(8, "mar", 0) != a[0]
    assert all(0 <= s < 2**32 for pair in a for s in pair)


def test_cohort_kwargs_scale_dtors_and_respect_overrides():
    kw = cohort_kwargs(150, n_sites=20)
    fu1, fu2, late = kw["response_counts"]
    assert kw["n_persons"] == 150 and kw["n_sites"] == 20
    assert 0 < fu2 < fu1 < 150 and 0 < late < 150 - fu1
    assert kw["n_areas"] <= kw["n_sites"]


# ---------------------------------------------------------------------------- cache keys
#: Cache file names the package computed before it moved into rooms (commit 9b3bb16, where
#: this room was the flat modules ``dtors_bayes.studies`` and ``dtors_bayes.sbc``): days of
#: cached replicates are keyed on them, so no move may change them.
PRE_ROOM_CACHE_FILES = [
    "mar__change_model__r0000__2cfaada4d773d72a.parquet",
    "mar__change_model__r0001__68a6ff94b6152244.parquet",
    "mar__pkgfn__r0000__00b558aa80b6943f.parquet",
    "mar__pkgfn__r0001__1caa59e51ff57f90.parquet",
    "gaussian__0000__7398ce304e05b25e.parquet",
    "gaussian__0001__bacc249b42622b6b.parquet",
    "bernoulli_selection__0000__68c2d382742e0e90.parquet",
]


def test_cache_keys_spell_the_pre_room_class_and_function_paths():
    assert Scenario("mar").key()["class"] == "dtors_bayes.studies.Scenario"
    assert Method("m").key()["class"] == "dtors_bayes.studies.Method"
    assert key_name(estimates_with_intervals) == "dtors_bayes.studies.estimates_with_intervals"
    assert key_name(sbc_study) == "dtors_bayes.sbc.sbc_study"

    class MyScenario(Scenario):
        pass

    class MyMethod(Method):
        pass

    # a subclass keeps its real path; so does a function outside the room
    assert MyScenario("mar").key()["class"] == f"{__name__}.{MyScenario.__qualname__}"
    assert MyMethod("m").key()["class"] == f"{__name__}.{MyMethod.__qualname__}"
    assert key_name(np.mean) == f"{np.mean.__module__}.mean"


def test_cache_file_names_match_the_pre_room_package(monkeypatch, tmp_path):
    """Coverage and SBC tasks get the cache files they had before the room move (no fits)."""
    import dtors_bayes.studies.coverage as coverage_module
    import dtors_bayes.studies.sbc as sbc_module

    files = []

    def record(tasks, **kwargs):
        files.extend(t.path.name for t in tasks)
        return Execution([], 0, 0, [])

    monkeypatch.setattr(coverage_module, "execute", record)
    monkeypatch.setattr(sbc_module, "execute", record)
    sc = Scenario("mar", {"n_persons": 300, "attrition": "mar"})
    methods = [Method("change_model", {"outcome": "mental_health", "time": "months"}, {},
                      {"draws": 100}),
               Method("pkgfn", method_fn=estimates_with_intervals)]
    coverage_study([sc], methods, 2, cache_dir=tmp_path, progress=False, seed=3)
    sbc_study("gaussian", 2, cache_dir=tmp_path, progress=False, seed=5)
    sbc_study("bernoulli", 1, cache_dir=tmp_path, progress=False, seed=5,
              selection_kappa=(0.0, 1.0), model_kwargs={"time": "wave"})
    assert files == PRE_ROOM_CACHE_FILES


# ---------------------------------------------------------------------------- arithmetic
def hand_results() -> pd.DataFrame:
    """Four replicates of two estimands with known errors and coverage."""
    rows = []
    truth = {"level": 0.2, "change": -0.1}
    # level: errors +0.1, -0.1, +0.1, +0.3; 90% covers 3 of 4; 50% covers 1 of 4
    # change: errors 0, 0, 0, 0; 90% covers 4 of 4, 50% covers 2 of 4
    spec = {"level": [(0.1, True, True), (-0.1, True, False), (0.1, True, False),
                      (0.3, False, False)],
            "change": [(0.0, True, True), (0.0, True, True), (0.0, True, False),
                       (0.0, True, False)]}
    for est, reps in spec.items():
        for r, (err, c90, c50) in enumerate(reps):
            t = truth[est]
            m = t + err
            rows.append({"scenario": "s", "method": "m", "replicate": r, "outcome": "y",
                         "estimand": est, "wave": 2, "modality": "", "contrast": "",
                         "mean": m,
                         "ci_lb": t - 0.5 if c90 else t + 0.01, "ci_ub": t + 0.5,
                         "ci50_lb": t - 0.05 if c50 else t + 0.01, "ci50_ub": t + 0.05,
                         "truth_sample": t, "truth_target": t + 1.0,
                         "r_hat_max": 1.0 + r / 100, "divergences": float(r == 3)})
    return pd.DataFrame(rows)


def test_coverage_arithmetic_on_known_inputs():
    table = add_coverage_columns(hand_results(), "sample")
    s = summarize_coverage(table).set_index("estimand")
    lv, ch = s.loc["level"], s.loc["change"]
    assert lv["n_reps"] == 4
    assert lv["bias"] == pytest.approx(0.1)
    errs = np.array([0.1, -0.1, 0.1, 0.3])
    assert lv["bias_mcse"] == pytest.approx(errs.std(ddof=1) / 2)
    assert lv["rmse"] == pytest.approx(np.sqrt(np.mean(errs**2)))
    assert lv["coverage90"] == pytest.approx(0.75)
    assert lv["coverage90_mcse"] == pytest.approx(np.sqrt(0.75 * 0.25 / 4))
    assert lv["coverage50"] == pytest.approx(0.25)
    assert lv["coverage50_mcse"] == pytest.approx(np.sqrt(0.25 * 0.75 / 4))
    assert ch["bias"] == pytest.approx(0.0) and ch["rmse"] == pytest.approx(0.0)
    assert ch["coverage90"] == 1.0 and ch["coverage90_mcse"] == 0.0
    assert ch["coverage50"] == 0.5
    assert lv["r_hat_max"] == pytest.approx(1.03) and lv["n_divergent_reps"] == 1
    # widths: the 90% intervals are (t-0.5, t+0.5) except replicate 3 of level
    assert ch["width90"] == pytest.approx(1.0)
    # scoring against the target truth (shifted by 1) covers nothing
    st = summarize_coverage(add_coverage_columns(hand_results(), "target"))
    assert (st["coverage90"] == 0).all()


def test_converged_only_summary_drops_unconverged_fits():
    """hand_results: R-hat 1.00-1.03 for replicates 0-3, replicate 3 also divergent, so only
    replicates 0 and 1 converged; a row without a sampler (R-hat NaN) always counts."""
    table = add_coverage_columns(hand_results(), "sample")
    assert converged(table).groupby(table["replicate"]).all().tolist() == [True, True, False,
                                                                            False]
    s = summarize_coverage(table, converged_only=True).set_index("estimand")
    assert s.loc["level", "n_reps"] == 2 and s.loc["level", "share_converged"] == 1.0
    assert s.loc["level", "bias"] == pytest.approx(0.0)  # errors +0.1, -0.1
    assert summarize_coverage(table).set_index("estimand").loc["level", "share_converged"] \
        == pytest.approx(0.5)
    no_sampler = table.assign(r_hat_max=np.nan, divergences=np.nan)
    assert converged(no_sampler).all()


def test_missing_interval_gives_nan_coverage_not_zero():
    raw = hand_results()
    raw.loc[0, ["ci50_lb", "ci50_ub"]] = np.nan
    t = add_coverage_columns(raw)
    assert np.isnan(t.loc[0, "covered50"])
    s = summarize_coverage(t).set_index("estimand")
    assert s.loc["level", "coverage50"] == pytest.approx(0.0)  # the 3 left: none covered


def test_join_truth_flips_reversed_contrasts_and_drops_unknown():
    truth = pd.DataFrame({
        "outcome": ["y"] * 4, "estimand": ["level", "level", "modality_contrast",
                                           "modality_contrast"],
        "wave": [1, 1, 1, 1], "modality": [None, None, None, None],
        "contrast": [None, None, "a - b", "a - b"],
        "population": ["sample", "target", "sample", "target"], "value": [0.3, 0.4, 0.05, 0.07]})
    est = pd.DataFrame({"outcome": ["y"] * 3, "estimand": ["level", "modality_contrast",
                                                           "adjusted_level"],
                        "wave": [1, 1, 1], "modality": ["", "", "a"],
                        "contrast": ["", "b - a", ""], "mean": [0.31, -0.04, 0.2]})
    j = join_truth(est, truth).set_index("estimand")
    assert list(j.index) == ["level", "modality_contrast"]
    assert j.loc["modality_contrast", "truth_sample"] == pytest.approx(-0.05)
    assert j.loc["modality_contrast", "truth_target"] == pytest.approx(-0.07)
    assert j.loc["level", "truth_target"] == pytest.approx(0.4)


def test_select_estimands_tuples_dicts_and_callables():
    t = hand_results()
    assert set(select_estimands(t, [("y", "level")])["estimand"]) == {"level"}
    assert len(select_estimands(t, [{"estimand": "change", "wave": 2}])) == 4
    assert len(select_estimands(t, [("y", None, 3)])) == 0
    assert len(select_estimands(t, lambda d: d["replicate"] == 0)) == 2
    with pytest.raises(ValueError, match="unknown keys"):
        select_estimands(t, [{"estimate": "level"}])


# ---------------------------------------------------------------------------- SBC arithmetic
def test_rank_statistic_counts_draws_below():
    assert rank_statistic(0.5, np.array([0.1, 0.4, 0.6, 0.9])) == 2
    assert rank_statistic(-1.0, np.array([0.1, 0.4])) == 0


def test_uniformity_test_on_known_uniform_and_non_uniform_ranks():
    rng = np.random.default_rng(0)
    n, L = 400, 99
    uniform = rng.integers(0, L + 1, n)
    u = pit_values(uniform, L, rng=1)
    assert ((u > 0) & (u < 1)).all()
    ok = uniformity_test(u)
    assert ok["n_bins"] == 20 and ok["df"] == 19
    assert ok["p_value"] > 0.01
    # over-dispersed posterior -> ranks piled in the middle; biased -> piled at one end
    middle = rng.binomial(L, 0.5, n)
    low = rng.integers(0, 20, n)
    assert uniformity_test(pit_values(middle, L, rng=2))["p_value"] < 1e-6
    assert uniformity_test(pit_values(low, L, rng=3))["p_value"] < 1e-6
    # exact chi-square: 4 bins, counts 10/0/0/10, expected 5 each -> 4 x 25 / 5 = 20
    exact = uniformity_test(np.r_[np.full(10, 0.1), np.full(10, 0.9)], n_bins=4)
    assert exact["chi2"] == pytest.approx(20.0)


def test_summarize_ranks_flags_a_miscalibrated_quantity():
    rng = np.random.default_rng(4)
    n, L = 200, 49
    good = rng.integers(0, L + 1, n)
    bad = rng.integers(0, 10, n)
    frame = pd.DataFrame({
        "family": "bernoulli", "sim": np.r_[np.arange(n), np.arange(n)],
        "quantity": ["good"] * n + ["bad"] * n, "rank": np.r_[good, bad], "n_ranked": L,
        "ess_bulk": 100.0, "divergences": 0})
    frame["pit"] = pit_values(frame["rank"].to_numpy(), L, rng=5)
    s = summarize_ranks(frame).set_index("quantity")
    assert s.loc["good", "p_value"] > 0.01 and not s.loc["good", "outside_95_band"]
    assert s.loc["bad", "p_value"] < 1e-6 and s.loc["bad", "outside_95_band"]
    assert s.loc["bad", "mean_pit"] < 0.2


def test_frozen_priors_reproduce_the_default_prior():
    from dtors_bayes.models.change_model import ChangeModel
    from dtors_bayes.testing import tiny_cohort

    c = tiny_cohort(40, seed=2)
    m = ChangeModel("mental_health", "gaussian", levels=())
    d = m.design(c)
    frozen = frozen_priors(m, d)
    assert {"level_loc", "level", "sigma_person", "sigma"} <= set(frozen)
    import dataclasses

    m2 = dataclasses.replace(m, priors=frozen)
    d2 = dataclasses.replace(d, y=d.y * 10.0)  # other data: default scales would move
    assert m2.prior_scales(d2) == m.prior_scales(d)
    assert m.prior_scales(d2) != m.prior_scales(d)


# ---------------------------------------------------------------------------- study files
def test_example_study_file_parses():
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "studies" / \
        "change_model_mar.toml"
    args = read_study_file(path)
    assert args["scenarios"] and args["methods"] and args["replicates"] > 0
    assert all(m.sampler_kwargs.get("draws") for m in args["methods"])
    assert args["population"] in ("sample", "target")


def test_study_file_problems_are_listed_at_once_and_say_what_to_do(tmp_path):
    from dtors_bayes.exceptions import SpecError
    from dtors_bayes.studies.files import register_method

    bad = tmp_path / "bad.toml"
    bad.write_text('[study]\nreplicates = 0\nreplicate = 5\n'
                   '[[methods]]\nname = "m"\nfn = "os:system"\nmethod = "nope"\n')
    with pytest.raises(SpecError) as err:
        read_study_file(bad)
    msg = str(err.value)
    assert "5 problem(s)" in msg
    for part in ("unknown key 'replicate'", "unknown key 'fn'", "no [[scenarios]] table",
                 "method = 'nope' is not registered", "replicates = 0"):
        assert part in msg, part
    broken = tmp_path / "broken.toml"
    broken.write_text("[study\nname = 1\n")
    with pytest.raises(SpecError, match="not valid TOML"):
        read_study_file(broken)
    # a registered method is the only way a file names code
    ok = tmp_path / "ok.toml"
    ok.write_text('[[scenarios]]\nname = "s"\n[[methods]]\nname = "m"\nmethod = "mine"\n')

    def mine(cohort, seed, sim, model_kwargs, sampler_kwargs):
        return None

    register_method("mine", mine)
    assert read_study_file(ok)["methods"][0].method_fn is mine


# ---------------------------------------------------------------------------- real runs
@pytest.mark.integration
def test_tiny_study_on_local_cluster(tmp_path):
    cache = tmp_path / "cache"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = coverage_study([TINY_SCENARIO], [TINY_METHOD], 2, estimands=ESTIMANDS,
                             cache_dir=cache, n_workers=2, seed=3, progress=False)
    assert res.failures == [] and res.n_computed == 2 and res.n_cached == 0
    t = res.table
    assert len(t) == 2 * 2
    assert sorted(t["replicate"].unique()) == [0, 1]
    assert set(zip(t["estimand"], t["wave"], strict=True)) == {("level", 2), ("change", 2)}
    assert t[["mean", "ci_lb", "ci_ub", "ci50_lb", "ci50_ub", "truth"]].notna().all().all()
    assert ((t["ci_lb"] <= t["ci50_lb"]) & (t["ci50_ub"] <= t["ci_ub"])).all()
    # seeds are the derived ones
    assert tuple(t.loc[t.replicate == 1, ["sim_seed", "fit_seed"]].iloc[0]) == \
        replicate_seeds(3, "mar", 1)
    s = res.summary()
    assert len(s) == 2 and (s["n_reps"] == 2).all()
    # the summary's coverage and bias are the replicates' own, by hand
    for lvl, lo, hi in ((90, "ci_lb", "ci_ub"), (50, "ci50_lb", "ci50_ub")):
        hit = ((t[lo] <= t["truth"]) & (t["truth"] <= t[hi])).groupby(t["estimand"]).mean()
        np.testing.assert_allclose(s.set_index("estimand")[f"coverage{lvl}"].loc[hit.index],
                                   hit.to_numpy())
    bias = (t["mean"] - t["truth"]).groupby(t["estimand"]).mean()
    np.testing.assert_allclose(s.set_index("estimand")["bias"].loc[bias.index], bias.to_numpy())
    paths = res.write(tmp_path / "out")
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)
    # a rerun reads everything from the cache
    again = coverage_study([TINY_SCENARIO], [TINY_METHOD], 2, estimands=ESTIMANDS,
                           cache_dir=cache, scheduler="sync", seed=3, progress=False)
    assert again.n_computed == 0 and again.n_cached == 2
    pd.testing.assert_frame_equal(again.table, res.table)


def oracle(cohort, seed, sim):
    """A method that needs no fit: the sample truth +- fixed half-widths."""
    t = sim.truth.estimands
    t = t[t["population"] == "sample"].copy()
    t["mean"] = t["value"] + 0.01
    t["ci_lb"], t["ci_ub"] = t["value"] - 0.1, t["value"] + 0.1
    t["ci50_lb"], t["ci50_ub"] = t["value"] + 0.005, t["value"] + 0.05
    return t.drop(columns=["population", "value"])


def test_resume_recomputes_only_the_missing_replicate(tmp_path):
    cache = tmp_path / "cache"
    sc = Scenario("tiny", {"n_persons": 60, "n_sites": 8, "n_areas": 3, "outcomes": [OUTCOME],
                           "population_size": 2000, "n_population_areas": 10})
    me = Method("oracle", method_fn=oracle)
    kw = {"estimands": [(OUTCOME, "level")], "cache_dir": cache, "scheduler": "sync",
          "seed": 1, "progress": False}
    first = coverage_study([sc], [me], 3, **kw)
    assert first.n_computed == 3 and first.n_cached == 0
    s = first.summary()
    assert (s["coverage90"] == 1).all() and (s["coverage50"] == 0).all()
    assert s["bias"].to_numpy() == pytest.approx(0.01)
    files = sorted(cache.glob("*.parquet"))
    assert len(files) == 3 and "r0001" in files[1].name
    mtimes = {f: f.stat().st_mtime_ns for f in files}
    files[1].unlink()  # as if the study was killed before replicate 1 was written
    again = coverage_study([sc], [me], 3, **kw)
    assert again.n_computed == 1 and again.n_cached == 2
    assert files[1].exists()
    assert all(f.stat().st_mtime_ns == mtimes[f] for f in (files[0], files[2]))
    pd.testing.assert_frame_equal(again.table.drop(columns="seconds"),
                                  first.table.drop(columns="seconds"))
    # more replicates later: only the new one runs; another seed: a fresh set
    # only_cached summarises what is there and computes nothing
    peek = coverage_study([sc], [me], 6, **kw, only_cached=True)
    assert peek.n_computed == 0 and peek.n_cached == 3 and peek.table["replicate"].nunique() == 3
    assert coverage_study([sc], [me], 4, **kw).n_computed == 1
    assert coverage_study([sc], [me], 1, **{**kw, "seed": 2}).n_computed == 1


def test_rounds_grow_every_cell_equally_and_stop_at_the_target(tmp_path):
    sc = [Scenario(n, {"n_persons": 150, "n_sites": 20, "n_areas": 5, "outcomes": [OUTCOME],
                       "population_size": 3000, "n_population_areas": 10}) for n in "ab"]
    me = Method("oracle", method_fn=oracle)
    said: list[str] = []
    res = coverage_study_in_rounds(sc, [me], 5, step=2, scheduler="sync", echo=said.append,
                                   estimands=[(OUTCOME, "level")], cache_dir=tmp_path,
                                   seed=1, progress=False)
    assert [m.split(" ")[0] for m in said] == ["2", "4", "5"]
    assert res.n_computed == 2 and res.n_cached == 8  # the last round: one new per cell
    assert res.table.groupby("scenario")["replicate"].nunique().tolist() == [5, 5]
    # a time box of 0 minutes stops after the first round
    res0 = coverage_study_in_rounds(sc, [me], 9, step=3, minutes=0, scheduler="sync",
                                    echo=None, estimands=[(OUTCOME, "level")],
                                    cache_dir=tmp_path, seed=1, progress=False)
    assert res0.table.groupby("scenario")["replicate"].nunique().tolist() == [3, 3]
    with pytest.raises(ValueError, match="step must be >= 1"):
        coverage_study_in_rounds(sc, [me], 2, step=0, scheduler="sync")
