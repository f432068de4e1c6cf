"""Effect modification in the simulator: a follow-up shift by the levels of person columns.

``simulate_cohort(modifier_effects={"referral_route": {"criminal_justice": 0.5}})`` adds, for
every outcome ``k`` and person ``i``,

.. math::

    \\eta_{ik}(m) \\mathrel{+}= 1[m > 0]\\, h_k\\, s_k \\sum_{c} e_{c, x_{ic}}

to the main linear predictor (``eta``; a hurdle's non-zero part) at follow-up months, with
``e_{c,l}`` the effect given for level ``l`` of column ``c`` (0 for levels not named),
``h_k`` the outcome's harm sign and ``s_k`` its modality scale
(:data:`dtors_bayes.simulation.truth.OUTCOME_SPECS`): a positive effect means a worse
follow-up for that subgroup, on the scale of the modality profile. The shift is added after
the DTORS calibration (so the main random stream and every draw are unchanged; the
population's follow-up means then sit near, not at, the DTORS figures). The true subgroup
estimands are in ``truth.subgroups`` (:func:`subgroup_truth`).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations

import numpy as np
import pandas as pd

from dtors_bayes import constants

#: Person columns the simulator can modify effects by.
MODIFIER_COLUMNS = ("sex", "primary_drug", "referral_route", "age_group")
#: Columns of ``truth.subgroups``.
SUBGROUP_TRUTH_COLUMNS = ["outcome", "estimand", "wave", "modality", "contrast", "subgroup",
                          "population", "value"]


def check_modifier_effects(effects, population: pd.DataFrame) -> list[str]:
    """Problems of a ``modifier_effects=`` argument (empty when fine)."""
    if effects is None:
        return []
    if not isinstance(effects, Mapping):
        return [f"modifier_effects={effects!r}; allowed: {{column: {{level: effect}}}}, e.g. "
                "{'referral_route': {'criminal_justice': 0.5}}"]
    out = []
    for col, levels in effects.items():
        if col not in MODIFIER_COLUMNS:
            out.append(f"modifier_effects: {col!r} is not allowed; allowed columns: "
                       f"{', '.join(MODIFIER_COLUMNS)}")
            continue
        if not isinstance(levels, Mapping):
            out.append(f"modifier_effects[{col!r}] = {levels!r}; allowed: {{level: effect}}")
            continue
        have = set(population[col].astype(str)) if col in population else set()
        bad = [lv for lv in levels if str(lv) not in have]
        if bad:
            out.append(f"modifier_effects[{col!r}] names levels {bad} not in the population; "
                       f"allowed: {sorted(have)}")
    return out


def modifier_shift(effects: Mapping, population: pd.DataFrame) -> np.ndarray:
    """Per population person, ``sum_c e_{c, x_ic}`` (before the outcome's harm and scale)."""
    shift = np.zeros(len(population))
    for col, levels in effects.items():
        values = population[col].astype(str).to_numpy()
        for lv, e in levels.items():
            shift += float(e) * (values == str(lv))
    return shift


def subgroup_truth(model, population: pd.DataFrame, sample_rows: np.ndarray,
                   columns, outcomes) -> pd.DataFrame:
    """True subgroup estimands on ``mu`` (at the schedule months) for the target population
    and the sample, in the estimate table's conventions.

    Per column ``c`` and level ``l`` (labels as strings, sorted, as the model codes them):
    ``level``, ``change`` and ``modality_contrast`` ``A - B`` (everyone of the subgroup
    given A, then B; every pair in the DTORS order) with ``subgroup = "c=l"``, and per pair
    of levels ``G`` before ``H``: ``subgroup_difference`` of change (``modality = ""``) and
    of each modality contrast (``modality = "A - B"``), ``contrast = "G - H"``,
    ``subgroup = c``.
    """
    from dtors_bayes.simulation.truth import SCHEDULE

    mods = constants.DTORS_MODALITIES
    waves = sorted(SCHEDULE)
    recs = []
    for k in outcomes:
        own = {t: model.mu(k, None, SCHEDULE[t]) for t in waves}
        cf = {(j, t): model.mu(k, None, SCHEDULE[t], z=j)
              for j in range(len(mods)) for t in waves}
        for pop, rows in (("target", np.arange(model.n)), ("sample", np.asarray(sample_rows))):
            for col in columns:
                values = population[col].astype(str).to_numpy()[rows]
                labels = sorted(set(values))
                per: dict[str, dict[tuple, float]] = {}
                for lab in labels:
                    r = rows[values == lab]
                    sub = f"{col}={lab}"
                    d: dict[tuple, float] = {}
                    for t in waves:
                        d[("level", t, "", "")] = float(own[t][r].mean())
                    for t in waves[1:]:
                        d[("change", t, "", "")] = float((own[t][r] - own[0][r]).mean())
                        ch = [(cf[j, t][r] - cf[j, 0][r]).mean() for j in range(len(mods))]
                        for (ia, za), (ib, zb) in combinations(enumerate(mods), 2):
                            d[("modality_contrast", t, "", f"{za} - {zb}")] = \
                                float(ch[ia] - ch[ib])
                    per[lab] = d
                    recs += [(k, *key, sub, pop, v) for key, v in d.items()]
                for a, b in combinations(labels, 2):
                    for key, v in per[a].items():
                        est, t, _, con = key
                        if est in ("change", "modality_contrast"):
                            what = "" if est == "change" else con
                            recs.append((k, "subgroup_difference", t, what, f"{a} - {b}", col,
                                         pop, v - per[b][key]))
    return pd.DataFrame.from_records(recs, columns=SUBGROUP_TRUTH_COLUMNS)
