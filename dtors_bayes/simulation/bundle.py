"""The bundled synthetic DTORS-shaped cohort in the repository's ``data/`` folder.

``data/`` holds ``persons.csv``, ``interviews.csv``, ``population.csv``, ``truth.json``,
``cohort.json`` (roles, outcome families, schedule, trials, seed and simulator settings) and
``data_dictionary.md``. They are written by :func:`write_bundle` from
``simulate_cohort(seed=constants.DEFAULT_SEED)``; the same seed gives byte-identical files.
When the folder is absent (an installed wheel), the loaders regenerate the same cohort in
memory from the seed.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from dtors_bayes import constants
from dtors_bayes.simulation.truth import OUTCOME_FAMILIES, SCHEDULE, TRIALS, Truth

if TYPE_CHECKING:  # pragma: no cover
    from dtors_bayes.data.cohort import Cohort
    from dtors_bayes.simulation.generate import SimulatedCohort

DATA_DIR = Path(str(files("dtors_bayes.simulation") / "example"))
#: How ``cohort.json`` names the simulator (the public name; the second is the pre-rooms path).
SIMULATOR_NAMES = ("dtors_bayes.simulate_cohort", "dtors_bayes.simulate.simulate_cohort")
FILES = ("persons.csv", "interviews.csv", "population.csv", "truth.json", "cohort.json",
         "data_dictionary.md")


def _csv(frame: pd.DataFrame, path: Path) -> None:
    # Floats are written with Python's shortest round-trip repr; values are already rounded to
    # their reporting precision by the simulator, so files are stable and reload exactly.
    frame.to_csv(path, index=False, lineterminator="\n", na_rep="")


def bundle_config(sim: SimulatedCohort) -> dict:
    """The ``cohort.json`` content: roles, outcomes, schedule, trials, seed, settings."""
    outcomes = sim.outcomes
    return {
        "roles": {r: r for r in (*constants.PERSON_ROLES, *constants.INTERVIEW_ROLES)},
        "outcomes": outcomes,
        "schedule": {str(t): m for t, m in SCHEDULE.items()},
        "trials": {k: v for k, v in TRIALS.items() if k in outcomes},
        "seed": sim.settings["seed"],
        "simulator": {"function": "dtors_bayes.simulate_cohort", **sim.settings},
        "files": {
            "persons": "persons.csv", "interviews": "interviews.csv",
            "population": "population.csv", "truth": "truth.json",
            "dictionary": "data_dictionary.md",
        },
    }


def write_bundle(sim: SimulatedCohort, out_dir: str | Path) -> list[Path]:
    """Write the bundle files deterministically and return their paths.

    Parameters
    ----------
    sim : SimulatedCohort
        What :func:`dtors_bayes.simulation.generate.simulate_cohort` returned.
    out_dir : str or Path
        Folder to write (created if needed); existing bundle files are overwritten.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f for f in FILES]
    _csv(sim.persons, paths[0])
    _csv(sim.interviews, paths[1])
    _csv(sim.population, paths[2])
    paths[3].write_text(sim.truth.to_json(), encoding="utf-8", newline="\n")
    paths[4].write_text(json.dumps(bundle_config(sim), sort_keys=True, indent=1) + "\n",
                        encoding="utf-8", newline="\n")
    paths[5].write_text(data_dictionary(sim), encoding="utf-8", newline="\n")
    return paths


def read_bundle(data_dir: str | Path = DATA_DIR) -> dict:
    """Read the bundle's frames and config with their dtypes (no ``Cohort`` built).

    Returns a dict with ``persons``, ``interviews``, ``population`` and ``config``.
    """
    d = Path(data_dir)
    config = json.loads((d / "cohort.json").read_text(encoding="utf-8"))
    persons = pd.read_csv(
        d / "persons.csv",
        dtype={"person_id": "int64", "site_id": str, "area_id": str, "age": "int64",
               "sex": str, "primary_drug": str, "referral_route": str, "modality": str},
    )
    outcome_types = dict.fromkeys(config["outcomes"], "float64")
    interviews = pd.read_csv(
        d / "interviews.csv",
        dtype={"person_id": "int64", "wave": "int64", "interviewed": bool,
               "months": "float64", "in_treatment": "boolean", **outcome_types},
    )
    population = pd.read_csv(d / "population.csv", dtype={"count": "int64"})
    return {"persons": persons, "interviews": interviews, "population": population,
            "config": config}


def _bundle_dir(data_dir: str | Path | None) -> Path | None:
    """The bundle folder, or None when absent (or when ``data/`` is not ours)."""
    d = Path(data_dir) if data_dir is not None else DATA_DIR
    try:
        config = json.loads((d / "cohort.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ours = config.get("simulator", {}).get("function") in SIMULATOR_NAMES
    return d if ours else None


def _regenerate() -> SimulatedCohort:
    from dtors_bayes.simulation.generate import simulate_cohort

    return simulate_cohort(constants.DEFAULT_SEED)


def load_example(data_dir: str | Path | None = None) -> Cohort:
    """The bundled synthetic DTORS-shaped cohort (1796 persons, 342 sites, 94 areas).

    Reads ``data/`` next to the package; regenerates the same cohort from its seed when the
    files are absent. Its known truth is :func:`load_example_truth`.
    """
    d = _bundle_dir(data_dir)
    if d is None:
        return _regenerate().cohort
    from dtors_bayes.data.cohort import Cohort

    b = read_bundle(d)
    cfg = b["config"]
    return Cohort.from_frames(
        b["persons"], b["interviews"], b["population"],
        outcomes=dict(cfg["outcomes"]),
        schedule={int(t): float(m) for t, m in cfg["schedule"].items()},
        trials=dict(cfg["trials"]),
    )


def load_example_truth(data_dir: str | Path | None = None) -> Truth:
    """The known truth (parameters and estimands) of :func:`load_example`'s cohort."""
    d = _bundle_dir(data_dir)
    if d is None:
        return _regenerate().truth
    return Truth.from_json((d / "truth.json").read_text(encoding="utf-8"))


def _fmt(x: float) -> str:
    return f"{x:g}"


def data_dictionary(sim: SimulatedCohort) -> str:
    """The ``data_dictionary.md`` text for a simulated bundle."""
    from dtors_bayes.simulation.truth import OUTCOME_SPECS

    s = sim.settings
    resp = sim.truth.params["response"]
    lines = [
        "# Data dictionary: the bundled synthetic DTORS-shaped cohort",
        "",
        "**Synthetic data.** Drawn by `dtors_bayes.simulate_cohort(seed="
        f"{s['seed']})`; regenerate with `dtors-bayes simulate --seed {s['seed']} --out data` "
        "(byte-identical). No real person is in these files.",
        "",
        f"Settings: {json.dumps(s, sort_keys=True)}.",
        "",
        "## persons.csv (one row per person)",
        "",
        "| column | type | allowed values |",
        "|---|---|---|",
        "| person_id | int | 1..n, unique |",
        "| site_id | str | `S###` treatment site; each site in exactly one area |",
        "| area_id | str | `A###` DAT area |",
        "| age | int | years at intake, 18-70 |",
        "| sex | str | `male`, `female` |",
        "| primary_drug | str | `heroin`, `crack`, `cocaine`, `cannabis`, `amphetamine`, "
        "`other` |",
        "| referral_route | str | `criminal_justice`, `other` |",
        "| modality | str | treatment at entry: " + ", ".join(
            f"`{m}`" for m in constants.DTORS_MODALITIES) + " |",
        "",
        "## interviews.csv (one row per person and scheduled wave)",
        "",
        "| column | type | allowed values |",
        "|---|---|---|",
        "| person_id | int | a person of persons.csv |",
        "| wave | int | 0 intake, 1 first follow-up, 2 second follow-up |",
        "| interviewed | bool | `True`/`False` |",
        "| months | float | months since intake (2 decimals); empty when not interviewed. "
        "Wave 1 in [3, 5] on time, in [6, 12] for a late single follow-up |",
        "| in_treatment | bool | in structured treatment at interview; empty at intake and "
        "when not interviewed |",
    ]
    for k, fam in sim.outcomes.items():
        lines.append(f"| {k} | float | family `{fam}`: {_outcome_text(k, fam)} |")
    lines += [
        "",
        "Outcome values are empty where not interviewed and for about "
        f"{100 * s['item_nonresponse']:g}% item non-response (missing completely at random). "
        "`sharing` is empty when `injecting` is 0 at that wave.",
        "",
        "## population.csv (the simulated NDTMS-like target population)",
        "",
        "Counts of persons by `age_group` (" + ", ".join(constants.AGE_LABELS)
        + "; right-open bins at " + ", ".join(map(str, constants.AGE_BREAKS[:-1]))
        + "), `sex`, `primary_drug`, `referral_route`, `modality`; column `count` (int > 0; "
        "empty cells are omitted). "
        f"{s['population_size']} persons in {s['n_population_areas']} areas.",
        "",
        "## truth.json and cohort.json",
        "",
        "`truth.json`: `params` (every parameter: per outcome `a`, `b`, `c` by modality, "
        "`beta`, `sigma_person`, `lambda`, `sigma_site`, `sigma_area`, realised site and area "
        "effects; `response` incl. `kappa`; `in_treatment`; `population`) and `estimands` "
        "(outcome, estimand, wave, modality, contrast, population, value). "
        "`cohort.json`: roles, outcome families, schedule, trials, seed, simulator settings.",
        "",
        "## Schedule",
        "",
        "Nominal months: " + ", ".join(f"wave {t}: {m:g}" for t, m in SCHEDULE.items())
        + ". Days of heroin use are out of 28 trials.",
        "",
        "## Simulator assumptions",
        "",
        "- Outcome model (the change model's parameterisation): "
        "`eta = a_z + b_z m + c_z max(m - 4, 0) + x'beta + u_i + v_site + w_area`, "
        "`u_ik = sigma_k (lambda_k s_i + sqrt(1 - lambda_k^2) e_ik)` with a shared severity "
        "`s_i`; `x = [(age - 35)/10, male, primary drug dummies (ref. heroin), criminal-"
        "justice referral]`. Hurdle families have a second predictor of the same form.",
        "- Trajectories are solved so the target population's means hit these targets "
        "(months 0, 4, 12):",
        "",
        "| outcome | part | targets | source |",
        "|---|---|---|---|",
    ]
    for k in sim.outcomes:
        for part, p in OUTCOME_SPECS[k].items():
            if part in ("eta", "eta_pos"):
                lines.append(f"| {k} | {part} | {' -> '.join(map(_fmt, p['target']))} | "
                             f"{p['target_source']} |")
    lines += [
        "",
        "- Modality: multinomial logit on age, heroin, criminal-justice referral plus a site "
        "tilt; the severity `s_i` does not enter (no unmeasured confounding). Assumed mix: "
        "prescribing 50%, psychosocial 25%, day care 10%, residential 8%, inpatient detox 7%. "
        "Modality effects are modest deviations from a common trajectory (residential a "
        "somewhat larger improvement).",
        "- Sample profile (published where noted): 73% male, 47% aged 25-34, heroin 57%, "
        "crack 12% [OAJ]; criminal-justice referral 25% (assumed). Recruitment over-recruits "
        "heroin users, prescribing clients and over-25s and under-recruits criminal-justice "
        "referrals (log tilt x recruitment_bias); the population is tilted back so the sample "
        "keeps the profile while the target population differs.",
        "- In treatment: 70% / 77% in the target population at FU1 / FU2 (seed).",
        f"- Response: `{resp['attrition']}` (strength {resp['strength']:g}, outcome "
        f"`{resp['mnar_outcome']}`, kappa {resp['kappa']:g}); FU1 on time (months ~ U(3,5)), "
        "FU2 (U(11,13)) only for on-time FU1 responders, a late single follow-up (U(6,12)) "
        "for some FU1 non-responders recorded as wave 1. Expected counts "
        f"{s['response_counts'][0]} / {s['response_counts'][1]} / {s['response_counts'][2]}; "
        f"realised {resp['realised_counts']['fu1']} / {resp['realised_counts']['fu2']} / "
        f"{resp['realised_counts']['late']}.",
        "",
    ]
    return "\n".join(lines)


def _outcome_text(k: str, fam: str) -> str:
    text = {
        "acquisitive_crime": "acquisitive offence in the past 4 weeks, 0/1",
        "heroin": "any heroin use in the past 4 weeks, 0/1",
        "crack": "any crack use in the past 4 weeks, 0/1",
        "injecting": "injected in the past 4 weeks, 0/1",
        "sharing": "shared injecting equipment in the past 4 weeks, 0/1 (injectors only)",
        "overdose": "overdose in the past 4 weeks, 0/1",
        "employed": "in paid employment, 0/1",
        "stable_housing": "stably housed, 0/1",
        "days_heroin": "days of heroin use in the past 28, whole number 0-28",
        "drug_spend": "drug spend in the past week, GBP >= 0 (2 decimals, many zeros)",
        "mental_health": "mental health score, norm-based (general population 50, sd 10)",
        "physical_health": "physical health score, norm-based (general population 50, sd 10)",
        "eq5d": "EQ-5D utility <= 1 (3 decimals; 1 = full health; may be negative)",
    }
    return text.get(k, OUTCOME_FAMILIES[k])
