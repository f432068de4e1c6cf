"""Helpers for tests (ours and downstream): tiny cohorts and tiny sampler settings.

These are *not* the DTORS simulator (:mod:`dtors_bayes.simulation.generate`). Two kinds of
small cohort:

- :func:`tiny_frames` / :func:`tiny_cohort`: *n* generated persons with one outcome of every
  family, for structural tests and smoke fits;
- :func:`hand_frames` / :func:`hand_cohort`: eight persons written out by hand (known ids,
  sites, gaps and item-missing values), for the data-contract tests.
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd

#: Sampler settings for smoke fits: enough to run the whole path, not to trust the numbers.
TINY_SAMPLER = {"draws": 60, "tune": 100, "chains": 2, "progressbar": False}

#: Compile options for logp/gradient checks on tiny graphs: the same graph, without the C
#: compiler (seconds instead of tens of seconds per graph). ``model.compile_logp(**FAST)``.
FAST = {"mode": "FAST_COMPILE"}

#: Families of the outcomes that :func:`tiny_frames` writes.
TINY_OUTCOMES = {
    "crime": "bernoulli",
    "days_use": "binomial",
    "offences": "negative_binomial",
    "mental_health": "gaussian",
    "spend": "hurdle_lognormal",
    "eq5d": "eq5d",
}

#: The outcome of the tiny cohort whose values suit each family.
FAMILY_OUTCOME = {
    "bernoulli": "crime", "binomial": "days_use", "beta_binomial": "days_use",
    "negative_binomial": "offences", "gaussian": "mental_health", "student_t": "mental_health",
    "hurdle_lognormal": "spend", "hurdle_gamma": "spend", "eq5d": "eq5d",
}


def tiny_frames(n: int = 120, *, seed: int = 0, n_sites: int = 12, n_areas: int = 4,
                response: float = 0.7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Persons and interviews frames of a small 3-wave cohort with every family.

    Each person has a latent severity; outcomes improve over waves; follow-ups are
    interviewed with probability ``response`` (MCAR).
    """
    rng = np.random.default_rng(seed)
    mods = np.array(["prescribing", "psychosocial", "residential"])
    site = rng.integers(0, n_sites, n)
    persons = pd.DataFrame({
        "person_id": np.arange(1, n + 1),
        "site_id": [f"S{s:02d}" for s in site],
        "area_id": [f"A{s % n_areas}" for s in site],
        "age": rng.integers(18, 60, n),
        "sex": rng.choice(["male", "female"], n),
        "primary_drug": rng.choice(["heroin", "crack", "other"], n),
        "referral_route": rng.choice(["criminal_justice", "other"], n),
        "modality": rng.choice(mods, n),
    })
    sev = rng.normal(0, 1, n)
    rows = []
    for i in range(n):
        for w, m in ((0, 0.0), (1, 4.0), (2, 12.0)):
            seen = w == 0 or rng.random() < response
            eta = -0.3 - 0.4 * (w > 0) + 0.8 * sev[i]
            p = 1 / (1 + np.exp(-eta))
            spend_pos = rng.random() < p
            eq_full = rng.random() < 0.3
            row = {"person_id": i + 1, "wave": w, "interviewed": seen,
                   "months": (m + (rng.uniform(-1, 1) if w else 0.0)) if seen else np.nan,
                   "crime": float(rng.random() < p),
                   "days_use": float(rng.binomial(28, p)),
                   "offences": float(rng.poisson(np.exp(eta + 1))),
                   "mental_health": rng.normal(42 + 2 * w - 5 * sev[i], 8),
                   "spend": float(rng.lognormal(4 + 0.3 * sev[i], 0.8)) if spend_pos else 0.0,
                   "eq5d": 1.0 if eq_full else float(1 - rng.lognormal(-1.5 + 0.3 * sev[i], 0.5))}
            if not seen:
                for k in TINY_OUTCOMES:
                    row[k] = np.nan
            rows.append(row)
    return persons, pd.DataFrame(rows)


def tiny_cohort(n: int = 120, *, seed: int = 0, **kwargs):
    """A :class:`~dtors_bayes.data.cohort.Cohort` from :func:`tiny_frames`."""
    from dtors_bayes.data.cohort import Cohort

    persons, interviews = tiny_frames(n, seed=seed, **kwargs)
    return Cohort.from_frames(persons, interviews, outcomes=dict(TINY_OUTCOMES))


#: Families of the outcomes of the hand-written cohort (:func:`hand_frames`).
HAND_OUTCOMES = {"days_heroin": "binomial", "crime": "bernoulli", "wellbeing": "gaussian"}


def hand_frames() -> dict[str, pd.DataFrame]:
    """Persons, interviews and population tables of an eight-person cohort written by hand.

    Eight persons, four sites in two areas, three waves, the three outcomes of
    :data:`HAND_OUTCOMES`. Person P008 has no row at wave 2 (added as not interviewed); P007
    is not interviewed at wave 1 and P006 not at wave 2; P002 has an item-missing
    ``wellbeing`` at wave 1. Each call returns fresh tables.
    """
    ids = [f"P{i:03d}" for i in range(1, 9)]
    persons = pd.DataFrame({
        "person_id": ids,
        "site_id": ["S1", "S1", "S2", "S2", "S3", "S3", "S4", "S4"],
        "area_id": ["A1", "A1", "A1", "A1", "A2", "A2", "A2", "A2"],
        "age": [22.0, 30.0, 41.0, 27.0, 50.0, 19.0, 33.0, 38.0],
        "sex": ["male", "female", "male", "male", "female", "male", "female", "male"],
        "primary_drug": ["heroin", "crack", "heroin", "alcohol", "heroin", "crack", "heroin",
                         "heroin"],
        "referral_route": ["criminal_justice", "other", "other", "criminal_justice", "other",
                           "other", "criminal_justice", "other"],
        "modality": ["prescribing", "psychosocial"] * 4,
        "motivation": [3.0, 4.0, 2.0, 5.0, 3.0, 1.0, 4.0, 2.0],
    })
    rows = []
    rng = np.random.default_rng(1)
    for i, pid in enumerate(ids):
        for wave, month in ((0, 0.0), (1, 4.0 + (i % 3) * 0.3), (2, 12.0 + (i % 2) * 0.5)):
            if pid == "P008" and wave == 2:
                continue
            interviewed = not ((pid == "P007" and wave == 1) or (pid == "P006" and wave == 2))
            rows.append({
                "person_id": pid,
                "wave": wave,
                "interviewed": interviewed,
                "months": month if interviewed else np.nan,
                "in_treatment": (wave == 0 or i % 2 == 0) if interviewed else None,
                "days_heroin": float(rng.integers(0, 29)) if interviewed else np.nan,
                "crime": float(rng.integers(0, 2)) if interviewed else np.nan,
                "wellbeing": (np.nan if (pid == "P002" and wave == 1) or not interviewed
                              else float(np.round(rng.normal(), 3))),
            })
    interviews = pd.DataFrame(rows)
    population = pd.DataFrame({
        "sex": ["male", "male", "female", "female"],
        "modality": ["prescribing", "psychosocial", "prescribing", "psychosocial"],
        "count": [400, 300, 200, 100],
    })
    return {"persons": persons, "interviews": interviews, "population": population}


def hand_long_frame(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The tables of :func:`hand_frames` as one flat long table (interviews x persons)."""
    return frames["interviews"].merge(frames["persons"], on="person_id", how="left")


def hand_cohort(frames: dict[str, pd.DataFrame] | None = None):
    """The :class:`~dtors_bayes.data.cohort.Cohort` of :func:`hand_frames` (or of ``frames``)."""
    from dtors_bayes.data.cohort import Cohort

    f = hand_frames() if frames is None else frames
    return Cohort.from_frames(f["persons"], f["interviews"], f["population"],
                              outcomes=dict(HAND_OUTCOMES))


#: Chains and draws of the hand-built posterior of :func:`hand_posterior_fit`.
HAND_CHAINS, HAND_DRAWS = 2, 40
#: Modalities of :func:`hand_posterior_design`.
HAND_MODALITIES = ["prescribing", "residential"]
#: Auxiliary parameters (posterior centres) of the families in :func:`hand_posterior_fit`.
HAND_AUX = {"beta_binomial": {"phi": 8.0}, "negative_binomial": {"alpha": 2.0},
            "gaussian": {"sigma": 1.0}, "student_t": {"sigma": 1.0, "nu": 5.0},
            "hurdle_lognormal": {"sigma_pos": 0.7}, "hurdle_gamma": {"shape_pos": 2.0},
            "eq5d": {"sigma_pos": 0.5}}


def hand_posterior_design(n: int = 8, seed: int = 0):
    """A :class:`~dtors_bayes.models.design.Design` written by hand: ``n`` persons (ids from
    101), two modalities alternating, three waves at months 0/4/12, no sites or covariates,
    monotone-ish gaps (persons 2, 5, 7 missed wave 1; 2, 3, 5, 7, 8 wave 2), Bernoulli-looking
    outcomes and 5 trials."""
    from dtors_bayes.models.design import Design

    rng = np.random.default_rng(seed)
    inter = np.ones((n, 3), bool)
    inter[[1, 4, 6], 1] = False
    inter[[1, 2, 4, 6, 7], 2] = False
    y = np.where(inter, rng.integers(0, 2, (n, 3)).astype(float), np.nan)
    return Design(
        person_ids=np.arange(101, 101 + n), modality=np.arange(n) % 2,
        modality_labels=list(HAND_MODALITIES), site=None, site_labels=[], area=None,
        area_labels=[], site_area=None, X=np.zeros((n, 0)), covariate_names=[], y=y,
        months=np.tile([0.0, 4.0, 12.0], (n, 1)), interviewed=inter, waves=[0, 1, 2],
        schedule={0: 0.0, 1: 4.0, 2: 12.0}, trials=5)


def hand_posterior_fit(family: str = "bernoulli", seed: int = 1, n: int = 8):
    """A :class:`~dtors_bayes.models.fit.Fit` on :func:`hand_posterior_design` whose posterior
    is drawn iid by hand (no sampling): ``beta_time``, ``z_person``, ``sigma_person`` and the
    family's auxiliary parameters (:data:`HAND_AUX`). For estimand arithmetic only."""
    import xarray as xr

    from dtors_bayes.models.change_model import ChangeModel
    from dtors_bayes.models.fit import Fit

    rng = np.random.default_rng(seed)
    s = HAND_CHAINS * HAND_DRAWS

    def cd(a):
        return a.reshape(HAND_CHAINS, HAND_DRAWS, *a.shape[1:])

    post = {
        "beta_time": (("chain", "draw", "modality", "time_basis"),
                      cd(rng.normal([[0.3, -0.2, -0.6], [0.1, -0.5, -0.4]], 0.2, (s, 2, 3)))),
        "z_person": (("chain", "draw", "person"), cd(rng.normal(size=(s, n)))),
        "sigma_person": (("chain", "draw"), cd(np.abs(rng.normal(0.8, 0.1, s)))),
    }
    if family in ("hurdle_lognormal", "hurdle_gamma", "eq5d"):
        post["pos_beta_time"] = (("chain", "draw", "modality", "time_basis"),
                                 cd(rng.normal(-1.0, 0.2, (s, 2, 3))))
    for k, v in HAND_AUX.get(family, {}).items():
        post[k] = (("chain", "draw"), cd(np.abs(rng.normal(v, 0.1, s))))
    tree = xr.DataTree.from_dict({"posterior": xr.Dataset(post)})
    return Fit(ChangeModel("y", family, levels=()), hand_posterior_design(n), tree,
               {"sampler": {}})


def with_hand_modifier(fit, name: str, labels: list[str], codes, *, scale: float = 1.0,
                       seed: int = 3):
    """:func:`hand_posterior_fit` given ``modifiers=(name,)``: the design's modifier codes
    (``codes``, one per person, indexing ``labels``) and hand-drawn zero-sum modifier terms
    ``sigma_<name>``, ``z_<name>``, ``sigma_<name>_modality``, ``z_<name>_modality`` (scales
    times ``scale``: 0 makes the terms vanish). Edits and returns ``fit``."""
    from dtors_bayes.models.change_model import ChangeModel

    d = fit.design
    d.modifier_names, d.modifier_labels = [name], [list(labels)]
    d.modifier_codes = np.asarray(codes, dtype=int)[:, None]
    rng = np.random.default_rng(seed)
    post = fit.tree["posterior"].to_dataset()
    c, n = post.sizes["chain"], post.sizes["draw"]

    def zs(*shape):
        x = rng.normal(size=(c, n, *shape))
        return x - x.mean(axis=-1, keepdims=True)

    nb, nl = post.sizes["time_basis"], len(labels)
    zi = zs(nb, post.sizes["modality"], nl)
    zi = zi - zi.mean(axis=-2, keepdims=True)
    post[f"sigma_{name}"] = (("chain", "draw"), scale * np.abs(rng.normal(0.5, 0.1, (c, n))))
    post[f"z_{name}"] = (("chain", "draw", "time_basis", name), zs(nb, nl))
    post[f"sigma_{name}_modality"] = (("chain", "draw"),
                                      scale * np.abs(rng.normal(0.3, 0.1, (c, n))))
    post[f"z_{name}_modality"] = (("chain", "draw", "time_basis", "modality", name), zi)
    fit.tree["posterior"] = fit.tree["posterior"].__class__(post)
    fit.model = ChangeModel("y", "bernoulli", levels=(), modifiers=(name,))
    return fit


def saved_hand_fit(path, outcome: str = "y", family: str = "bernoulli", seed: int = 1):
    """:func:`hand_posterior_fit` of ``outcome`` saved as a fit at ``path`` (with its design
    in ``constant_data``, as a sampled fit is saved), for command-line tests; returns the
    path."""
    import xarray as xr

    from dtors_bayes.models.change_model import ChangeModel
    from dtors_bayes.models.fit import Fit

    f = hand_posterior_fit(family, seed=seed)
    tree = f.tree.copy()
    tree["constant_data"] = xr.DataTree(f.design.to_dataset())
    return Fit(ChangeModel(outcome, family, levels=()), f.design, tree, {"sampler": {}}
               ).save(path)


def check_report_section(capsys, out, fit, data, option: str, folder, *, finding: str,
                         figure: str, table: str) -> None:
    """Run ``dtors-bayes report --fits fit --data data --out out --<option> folder`` and
    check that it succeeds and that the page holds the ``finding-<finding>`` section and
    the ``figure-<figure>`` figure, with ``figures/<figure>.png`` (not empty) and
    ``tables/<table>.csv`` written; then that the same option on a folder without
    ``<option>.json`` fails with a one-line error naming that file."""
    from pathlib import Path

    from dtors_bayes.workflow import cli

    out = Path(out)
    rc = cli.main(["report", "--fits", str(fit), "--data", str(data), "--out", str(out),
                   f"--{option}", str(folder), "--no-progress"])
    capsys.readouterr()
    assert rc == 0
    text = (out / "index.html").read_text(encoding="utf-8")
    assert f'id="finding-{finding}"' in text and f'id="figure-{figure}"' in text
    assert (out / "figures" / f"{figure}.png").stat().st_size > 0
    assert (out / "tables" / f"{table}.csv").exists()
    rc, line = cli_error(capsys, "report", "--fits", fit, "--data", data, "--out",
                         out.with_name(out.name + "_bad"), f"--{option}", out.parent)
    assert rc == 1 and f"{option}.json" in line


def cli_error(capsys, *args) -> tuple[int, str]:
    """Run ``dtors-bayes *args``; its exit status and the last stderr line that is not a
    sampler warning (the one-line error), after checking no traceback was printed."""
    from dtors_bayes.workflow import cli

    rc = cli.main([str(a) for a in args])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("warning:")]
    assert "Traceback" not in err
    return rc, lines[-1] if lines else ""


class HtmlPage(HTMLParser):
    """What the report tests read off an HTML page: ``h2`` headings, ``img`` sources and the
    ``class`` attributes (feeding it also checks that the page parses)."""

    def __init__(self):
        super().__init__()
        self.h2: list[str] = []
        self.imgs: list[str] = []
        self.classes: list[str] = []
        self._h2 = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "h2":
            self._h2 = True
            self.h2.append("")
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        if a.get("class"):
            self.classes.append(a["class"])

    def handle_endtag(self, tag):
        if tag == "h2":
            self._h2 = False

    def handle_data(self, data):
        if self._h2:
            self.h2[-1] += data


def parse_html(path) -> HtmlPage:
    """Parse an HTML file into an :class:`HtmlPage`."""
    page = HtmlPage()
    page.feed(Path(path).read_text(encoding="utf-8"))
    page.close()
    return page
