"""The numbers a change model needs, taken from a cohort once and kept with the fit.

A :class:`Design` holds person-level codes and covariates, the outcome matrix and the
interview mask. It is written into the fit's ``constant_data`` group and read back from it,
so a saved fit computes its estimands without the cohort.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from dtors_bayes.exceptions import ModelError
from dtors_bayes.models.encoding import CovariateEncoding, covariate_variables
from dtors_bayes.models.families import get_family
from dtors_bayes.models.time_basis import TimeBasis


@dataclass
class Design:
    """Arrays of one outcome model.

    Attributes
    ----------
    person_ids : ndarray (n_person,)
    modality : ndarray of int (n_person,)
        Codes into ``modality_labels`` (all zero when the cohort has no modality).
    site, area : ndarray of int or None
        Codes into ``site_labels`` / ``area_labels``.
    X : ndarray (n_person, n_covariate)
        Centred (and, for numeric columns, scaled) covariate matrix.
    y : ndarray (n_person, n_wave)
        Outcome, NaN where not observed. Under ``baseline="covariate"`` only follow-up waves
        are modelled and the intake outcome is a covariate.
    months : ndarray (n_person, n_wave)
        Months of each interview; the wave's nominal months where not interviewed.
    interviewed : ndarray of bool (n_person, n_wave)
    waves : list of int
        Modelled waves (intake first under ``baseline="outcome"``).
    schedule : dict
        Nominal months per wave.
    baseline_values : ndarray or None
        Intake outcome under ``baseline="covariate"`` (used for the intake level).
    late : ndarray of bool (n_person, n_wave) or None
        Interviews after their wave's on-time window (:func:`late_interviews`); ``None``
        means none are late.
    exclusions : DataFrame
        Persons excluded from this model and why (columns ``stage, reason, n_rows, first_ids``).
    encoding : CovariateEncoding or None
        How the persons' covariate columns became the first ``encoding.n_columns`` columns of
        ``X`` (:mod:`dtors_bayes.models.encoding`), to encode other rows (MRP's cells) the same
        way. ``None`` for a fit saved before it was kept (MRP then fits it again).
    modifier_names : list of str
        Effect modifiers of the model (``ChangeModel(modifiers=...)``), in order; empty for
        none.
    modifier_codes : ndarray of int (n_person, n_modifier)
        Codes of each person's level of each modifier into ``modifier_labels[k]``.
    modifier_labels : list of list of str
        Sorted levels of each modifier.
    """

    person_ids: np.ndarray
    modality: np.ndarray
    modality_labels: list[str]
    site: np.ndarray | None
    site_labels: list[str]
    area: np.ndarray | None
    area_labels: list[str]
    site_area: np.ndarray | None
    X: np.ndarray
    covariate_names: list[str]
    y: np.ndarray
    months: np.ndarray
    interviewed: np.ndarray
    waves: list[int]
    schedule: dict[int, float]
    trials: int
    baseline_values: np.ndarray | None = None
    late: np.ndarray | None = None
    exclusions: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["stage", "reason", "n_rows", "first_ids"])
    )
    encoding: CovariateEncoding | None = None
    modifier_names: list[str] = field(default_factory=list)
    modifier_codes: np.ndarray | None = None
    modifier_labels: list[list[str]] = field(default_factory=list)

    @property
    def n_person(self) -> int:
        """Number of persons in the model."""
        return len(self.person_ids)

    def observed_cells(self) -> tuple[np.ndarray, np.ndarray]:
        """Person and wave positions of every observed outcome value."""
        p, t = np.nonzero(~np.isnan(self.y))
        return p, t

    def cells(
        self,
        basis: TimeBasis,
        person: np.ndarray,
        wave: np.ndarray,
        months: np.ndarray | None = None,
        modality: np.ndarray | None = None,
        late: np.ndarray | None = None,
    ) -> dict:
        """Cell-level data for :func:`dtors_bayes.models.predictor.linear_predictor`.

        Without ``months`` the cells sit at their waves' nominal months (on time). With
        ``months`` and no ``late``, each cell's late flag is the design's own (right for
        cells at their interviews' months); pass ``late`` for cells at other months.
        """
        person = np.asarray(person, dtype=int)
        wave = np.asarray(wave, dtype=int)
        if months is None:
            months = np.array([self.schedule[self.waves[w]] for w in wave], dtype=float)
            late = None
        elif late is None and self.late is not None:
            late = self.late[person, wave]
        if basis.kind == "wave" and len(basis.waves) != len(self.waves):
            raise AssertionError("basis and design disagree on waves")  # pragma: no cover
        d = {
            "person": person,
            "basis": basis.matrix(wave, months, late),
            "change": basis.change_indicator(wave, months),
            "modality": self.modality[person] if modality is None else np.asarray(modality),
            "X": self.X,
        }
        if self.site is not None:
            d["site"] = self.site[person]
        if self.area is not None:
            d["area"] = self.area[person]
        if self.modifier_names:
            d["modifiers"] = {m: self.modifier_codes[person, k]
                              for k, m in enumerate(self.modifier_names)}
        return d

    # ---- round trip through the fit's constant_data ---------------------------------------
    def to_dataset(self) -> xr.Dataset:
        """Encode as an xarray Dataset (stored as the fit's ``constant_data``)."""
        ds = xr.Dataset(
            {
                "modality_code": ("person", self.modality.astype("int32")),
                "X": (("person", "covariate"), self.X),
                "y": (("person", "wave"), self.y),
                "months": (("person", "wave"), self.months),
                "interviewed": (("person", "wave"), self.interviewed.astype("int8")),
            },
            coords={
                "person": np.asarray(self.person_ids).astype(str),
                "wave": np.asarray(self.waves, dtype="int64"),
                "covariate": np.asarray(self.covariate_names, dtype=str),
                "modality": np.asarray(self.modality_labels, dtype=str),
            },
        )
        if self.site is not None:
            ds["site_code"] = ("person", self.site.astype("int32"))
            ds = ds.assign_coords(site=np.asarray(self.site_labels, dtype=str))
        if self.area is not None:
            ds["area_code"] = ("person", self.area.astype("int32"))
            ds = ds.assign_coords(area=np.asarray(self.area_labels, dtype=str))
        if self.site_area is not None:
            ds["site_area_code"] = ("site", self.site_area.astype("int32"))
        if self.baseline_values is not None:
            ds["baseline_value"] = ("person", self.baseline_values)
        if self.late is not None:
            ds["late"] = (("person", "wave"), self.late.astype("int8"))
        ds.attrs["schedule"] = json.dumps({str(k): float(v) for k, v in self.schedule.items()})
        ds.attrs["trials"] = int(self.trials)
        ds.attrs["person_id_dtype"] = str(np.asarray(self.person_ids).dtype.kind)
        if self.encoding is not None:
            ds.attrs["covariate_encoding"] = json.dumps(self.encoding.to_dict())
        if self.modifier_names:  # absent for models without modifiers (files unchanged)
            ds["modifier_code"] = (("person", "modifier"), self.modifier_codes.astype("int32"))
            ds = ds.assign_coords(modifier=np.asarray(self.modifier_names, dtype=str))
            ds.attrs["modifier_labels"] = json.dumps(self.modifier_labels)
        return ds

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> Design:
        """Inverse of :meth:`to_dataset`."""
        pid = ds["person"].values.astype(str)
        if ds.attrs.get("person_id_dtype") in ("i", "u"):
            pid = pid.astype("int64")
        waves = [int(w) for w in ds["wave"].values]
        return cls(
            person_ids=pid,
            modality=ds["modality_code"].values.astype(int),
            modality_labels=[str(m) for m in ds["modality"].values],
            site=ds["site_code"].values.astype(int) if "site_code" in ds else None,
            site_labels=[str(s) for s in ds["site"].values] if "site" in ds.coords else [],
            area=ds["area_code"].values.astype(int) if "area_code" in ds else None,
            area_labels=[str(a) for a in ds["area"].values] if "area" in ds.coords else [],
            site_area=ds["site_area_code"].values.astype(int) if "site_area_code" in ds else None,
            X=ds["X"].values,
            covariate_names=[str(c) for c in ds["covariate"].values],
            y=ds["y"].values,
            months=ds["months"].values,
            interviewed=ds["interviewed"].values.astype(bool),
            waves=waves,
            schedule={int(k): float(v) for k, v in json.loads(ds.attrs["schedule"]).items()},
            trials=int(ds.attrs.get("trials", 28)),
            baseline_values=ds["baseline_value"].values if "baseline_value" in ds else None,
            late=ds["late"].values.astype(bool) if "late" in ds else None,
            encoding=(CovariateEncoding.from_dict(json.loads(ds.attrs["covariate_encoding"]))
                      if "covariate_encoding" in ds.attrs else None),
            modifier_names=([str(m) for m in ds["modifier"].values]
                            if "modifier_code" in ds else []),
            modifier_codes=(ds["modifier_code"].values.astype(int)
                            if "modifier_code" in ds else None),
            modifier_labels=(json.loads(ds.attrs["modifier_labels"])
                             if "modifier_code" in ds else []),
        )


#: The largest gap in a follow-up's interview months after its nominal months separates
#: on-time interviews from late ones when it is at least this long (DTORS: 3-5 vs 6-12).
LATE_GAP_MONTHS = 0.5


def on_time_limits(months: np.ndarray, interviewed: np.ndarray, waves: list[int],
                   schedule: dict[int, float], gap: float = LATE_GAP_MONTHS) -> dict[int, float]:
    """The latest on-time months of every follow-up wave but the last (the late rule).

    For follow-up wave ``t`` with a next wave, the months of *all* its interviews (never
    only those of persons seen again later, which would condition on a later response) are
    sorted; the on-time window ends at the *largest* gap between consecutive months above
    the nominal months ``schedule[t]``, when that gap is at least ``gap`` months. No such
    gap: every interview is on time (``inf``). The last wave has no later level to place a
    late interview towards, so it is never split. Intake (months 0) is on time by definition.

    Returns
    -------
    dict
        Wave label -> latest on-time months (``inf`` when the wave has no late interviews).
    """
    out: dict[int, float] = {}
    intake = min(schedule, key=lambda w: (schedule[w], w))
    for j, w in enumerate(waves[:-1]):
        if w == intake:
            continue
        m = np.sort(months[np.asarray(interviewed[:, j], bool), j])
        m = m[m >= schedule[w]]
        steps = np.diff(m)
        big = int(np.argmax(steps)) if steps.size else -1
        out[w] = float(m[big]) if big >= 0 and steps[big] >= gap else float("inf")
    return out


def late_interviews(months: np.ndarray, interviewed: np.ndarray, waves: list[int],
                    schedule: dict[int, float]) -> np.ndarray | None:
    """Boolean (person x wave) mask of late interviews (:func:`on_time_limits`), or None."""
    limits = on_time_limits(months, interviewed, waves, schedule)
    late = np.zeros(months.shape, dtype=bool)
    for j, w in enumerate(waves):
        if w in limits:
            late[:, j] = np.asarray(interviewed[:, j], bool) & (months[:, j] > limits[w])
    return late if late.any() else None


def build_design(
    cohort,
    *,
    outcome: str,
    family: str,
    covariates,
    baseline: str,
    levels: tuple[str, ...],
    trials: int | None = None,
    modifiers: tuple[str, ...] = (),
) -> Design:
    """Take the arrays of one outcome model from a cohort, checking the request.

    Raises
    ------
    ModelError
        Outcome not in the cohort, a family that does not fit the outcome's values, a
        covariate, level or modifier the cohort lacks (or a modifier with one level). All
        problems are listed at once.
    """
    fam = get_family(family)
    problems: list[str] = []
    if outcome not in cohort.outcomes:
        problems.append(
            f"outcome {outcome!r} is not an outcome of this cohort; "
            f"outcomes: {', '.join(cohort.outcomes)}"
        )
    for lvl in levels:
        if lvl not in ("site", "area"):
            problems.append(f"levels: {lvl!r} is not a level; allowed: 'site', 'area'")
        elif lvl not in cohort.levels:
            problems.append(
                f"levels: the cohort has no {lvl}_id column, so {lvl!r} "
                f"cannot be a level; use levels={tuple(cohort.levels)!r}"
            )
    if baseline not in ("outcome", "covariate"):
        problems.append(f"baseline={baseline!r}; allowed: 'outcome', 'covariate'")
    cov_list = [covariates] if isinstance(covariates, str) else list(covariates or [])
    if not isinstance(covariates, str):
        missing = [c for c in cov_list if c not in cohort.persons.columns]
        if missing:
            problems.append(
                f"covariates {missing} are not person-level columns of the cohort; "
                f"available: {', '.join(cohort.covariates)}"
            )
    problems += modifier_problems(cohort, modifiers)
    if problems:
        raise ModelError("cannot build the model:\n" + "\n".join(f"  - {p}" for p in problems))

    n_trials = int(trials or cohort.trials.get(outcome, 28))
    y_all = cohort.matrix(outcome)
    bad = fam.invalid(y_all, n_trials)
    if bad.any():
        ids = cohort.person_ids()[np.nonzero(bad)[0][:5]].tolist()
        raise ModelError(
            f"family {family!r} does not fit outcome {outcome!r}: {int(bad.sum())} value(s) "
            f"outside its support ({fam.support}); first persons: {ids}"
        )

    persons = cohort.persons
    keep = np.ones(len(persons), dtype=bool)
    excl = []
    # The columns a formula names, by name (a substring match took age out of age_group).
    cols = cov_list if not isinstance(covariates, str) else covariate_variables(
        covariates, persons.columns)
    if cols:
        na = persons[cols].isna().any(axis=1).to_numpy()
        if na.any():
            excl.append(("model", f"missing covariate value ({', '.join(cols)})", na))
            keep &= ~na
    if modifiers:
        na = persons[list(modifiers)].isna().any(axis=1).to_numpy()
        if na.any():
            excl.append(("model", f"missing modifier value ({', '.join(modifiers)})", na))
            keep &= ~na
    if "modality" in persons.columns:
        na = persons["modality"].isna().to_numpy()
        if na.any():
            excl.append(("model", "missing modality", na))
            keep &= ~na
    waves = list(cohort.waves)
    baseline_values = None
    if baseline == "covariate":
        base = y_all[:, 0]
        na = np.isnan(base)
        if na.any():
            excl.append(("model", f"intake {outcome} missing (baseline='covariate')", na & keep))
            keep &= ~na
    pid = cohort.person_ids()
    rows = [
        {"stage": s, "reason": r, "n_rows": int(m.sum()), "first_ids": pid[m][:5].tolist()}
        for s, r, m in excl
        if m.sum() > 0
    ]

    sub = persons.loc[keep].reset_index(drop=True)
    encoding = CovariateEncoding.fit(sub, covariates)
    X, names = encoding.transform(sub), list(encoding.names)
    y = y_all[keep]
    interviewed = cohort.interviewed_matrix()[keep]
    months = cohort.months_matrix()[keep].copy()
    for j, w in enumerate(waves):
        months[np.isnan(months[:, j]), j] = cohort.schedule[w]
    if baseline == "covariate":
        baseline_values = y[:, 0].copy()
        b = (baseline_values - baseline_values.mean()) / (baseline_values.std() or 1.0)
        X = np.column_stack([X, b])
        names = [*names, f"baseline_{outcome}"]
        y, interviewed, months, waves = y[:, 1:], interviewed[:, 1:], months[:, 1:], waves[1:]

    def codes(col):
        if col not in persons.columns:
            return None, []
        c, labels = cohort.codes(col)
        return np.asarray(c)[keep], [str(x) for x in labels]

    modality, mod_labels = codes("modality")
    if modality is None:
        modality, mod_labels = np.zeros(int(keep.sum()), dtype=int), ["all"]
    # Site and area codes are kept whenever the cohort has them, even when the model has no
    # such level: grouped cross-validation and checks by site need them.
    site, site_labels = codes("site_id")
    area, area_labels = codes("area_id")
    site_area = None
    if site is not None and area is not None:
        site_area = np.asarray(cohort.site_area_map())
    return Design(
        person_ids=pid[keep],
        modality=modality,
        modality_labels=mod_labels,
        site=site,
        site_labels=site_labels,
        area=area,
        area_labels=area_labels,
        site_area=site_area,
        X=X,
        covariate_names=names,
        y=y,
        months=months,
        interviewed=interviewed,
        waves=waves,
        schedule={w: float(cohort.schedule[w]) for w in cohort.waves},
        trials=n_trials,
        baseline_values=baseline_values,
        late=late_interviews(months, interviewed, waves, cohort.schedule),
        exclusions=pd.DataFrame(rows, columns=["stage", "reason", "n_rows", "first_ids"]),
        encoding=encoding,
        **modifier_fields(persons.loc[keep].reset_index(drop=True), modifiers),
    )


def modifier_problems(cohort, modifiers) -> list[str]:
    """Problems of a ``modifiers=`` request against a cohort (empty when it is fine)."""
    out = []
    allowed = ", ".join(c for c in cohort.persons.columns if c != "person_id")
    for m in modifiers:
        if m not in cohort.persons.columns:
            out.append(f"modifiers: {m!r} is not a person-level column of the cohort; "
                       f"allowed: {allowed}; fix: name a person-level categorical column")
        elif cohort.persons[m].dropna().nunique() < 2:
            out.append(f"modifiers: {m!r} has {cohort.persons[m].dropna().nunique()} level(s); "
                       "allowed: a column with two or more levels; fix: drop it from modifiers")
    return out


def modifier_fields(persons: pd.DataFrame, modifiers) -> dict:
    """The ``modifier_*`` fields of a :class:`Design` for the kept persons' rows.

    Levels are the column's distinct values as strings, sorted (categoricals: their
    categories that occur, in order); codes index them.
    """
    if not modifiers:
        return {}
    codes, labels = [], []
    for m in modifiers:
        c, lab = level_codes(persons[m])
        codes.append(c)
        labels.append(lab)
    return {"modifier_names": list(modifiers), "modifier_codes": np.column_stack(codes),
            "modifier_labels": labels}


def level_codes(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes and labels (strings) of a categorical column without missing values."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = [c for c in values.cat.categories if (values == c).any()]
        labels = [str(c) for c in present]
        text = values.astype(object).map(str)
    else:
        text = values.astype(object).map(str)
        labels = sorted(pd.unique(text).tolist())
    lookup = {v: i for i, v in enumerate(labels)}
    return np.array([lookup[v] for v in text], dtype=np.int64), labels
