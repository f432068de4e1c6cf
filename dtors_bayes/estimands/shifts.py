"""Shifted g-computation: the estimand arrays of a fit under pattern-mixture shifts.

The pattern-mixture model adds ``delta_g`` to the linear predictor of the cells that were
not interviewed (by group ``g`` of wave, modality or a person column) and averages the
response-scale mean over persons draw by draw, as the estimand engine does. Used by the
sensitivity analysis (:mod:`dtors_bayes.attrition.pattern_mixture`) and by the MNAR share of the
variance decomposition (:mod:`dtors_bayes.weighting.variance`); at delta = 0 it gives the MAR
estimands exactly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dtors_bayes.exceptions import FitError


# ---------------------------------------------------------------------------- core
class ShiftKernel:
    """Weighted mu of one set of etas, and its sums under link-scale shifts.

    For a logit link ``mu = a + b expit(eta)`` (``a``, ``b`` from the family's mean at
    ``eta = -inf, +inf``), so ``w mu(eta + delta) = w a + w b / (1 + exp(-eta) exp(-delta))``
    with ``exp(-eta)`` stored once; log and identity links are linear in ``exp(delta)`` and
    ``delta``.
    """

    def __init__(self, fam, etas: dict, aux: dict, w: np.ndarray, trials: int):
        self.link = fam.link
        self.w = w
        if not (fam.link == "logit" and len(fam.parts) == 1):
            self.W0 = w * fam.mean(etas, aux, trials=trials)  # weighted mu at shift 0, (S, N)
        if fam.link == "logit":
            if len(fam.parts) == 1:  # a = 0, b constant over cells (1 or the trials)
                one = np.ones((1, 1))
                self.a = None
                self.b = float(fam.mean({"eta": one * np.inf}, dict.fromkeys(aux, 1.0),
                                        trials=trials)[0, 0])
            else:
                lo = dict(etas, eta=np.full_like(etas["eta"], -np.inf))
                hi = dict(etas, eta=np.full_like(etas["eta"], np.inf))
                self.a = fam.mean(lo, aux, trials=trials)
                self.b = fam.mean(hi, aux, trials=trials) - self.a
            with np.errstate(over="ignore"):
                self.E = np.exp(-etas["eta"])
            if len(fam.parts) == 1:
                self.W0 = (w * self.b) / (1.0 + self.E)

    def const(self, keep: np.ndarray) -> np.ndarray:
        """Sums of w*mu at shift 0 against ``keep`` (persons,) or (persons, groups)."""
        return self.W0 @ keep

    def shifted(self, d_idx: np.ndarray, shifts: list, onehot: np.ndarray | None,
                rows: int = 64) -> tuple[np.ndarray, np.ndarray | None]:
        """Sums over persons ``d_idx`` of w*mu(eta + shift) for every shift: (K, S) and,
        with ``onehot`` (len(d_idx), M), per-group sums (K, S, M)."""
        n_s, n_k = self.W0.shape[0], len(shifts)
        onehot32 = None if onehot is None else onehot.astype(np.float32)
        tot = np.empty((n_k, n_s))
        grp = None if onehot is None else np.empty((n_k, n_s, onehot.shape[1]))
        if self.link != "logit":
            base = self.W0[:, d_idx]
            bs = base.sum(axis=1)
            bg = None if onehot is None else base @ onehot
            wd = np.broadcast_to(self.w, self.W0.shape)[:, d_idx]
            ws = wd.sum(axis=1)
            wg = None if onehot is None else wd @ onehot
            for k, sh in enumerate(shifts):
                sv = np.asarray(sh, dtype=float).reshape(-1)
                if self.link == "log":
                    tot[k] = bs * np.exp(sv)
                    if grp is not None:
                        grp[k] = bg * np.exp(sv)[:, None]
                else:
                    tot[k] = bs + sv * ws
                    if grp is not None:
                        grp[k] = bg + sv[:, None] * wg
            return tot, grp
        # float32 for the per-delta passes (cache- and SIMD-friendly; relative error ~1e-7);
        # a shift of exactly 0 uses the float64 mu, so delta = 0 reproduces Fit.estimate.
        E = self.E[:, d_idx].astype(np.float32)
        wb = self.w * self.b
        B = (np.broadcast_to(wb, self.W0.shape)[:, d_idx].astype(np.float32)
             if np.ndim(wb) else None)
        A = None
        if self.a is not None:
            A = (np.broadcast_to(self.w, self.W0.shape)[:, d_idx] * self.a[:, d_idx])
        W0 = self.W0[:, d_idx]
        for r0 in range(0, n_s, rows):
            r1 = min(n_s, r0 + rows)
            e = E[r0:r1]
            tmp = np.empty_like(e)
            b_r = B[r0:r1] if B is not None else np.float32(wb)
            a_tot = A[r0:r1].sum(axis=1) if A is not None else 0.0
            a_grp = (A[r0:r1] @ onehot) if (A is not None and onehot is not None) else 0.0
            for k, sh in enumerate(shifts):
                if np.ndim(sh) == 0 and float(sh) == 0.0:
                    tot[k, r0:r1] = W0[r0:r1].sum(axis=1)
                    if grp is not None:
                        grp[k, r0:r1] = W0[r0:r1] @ onehot
                    continue
                c = np.exp(-np.asarray(sh, dtype=float)).astype(np.float32)
                c = c[r0:r1] if np.ndim(c) else c
                with np.errstate(over="ignore", invalid="ignore"):
                    np.multiply(e, c, out=tmp)
                    tmp += np.float32(1.0)
                    np.divide(b_r, tmp, out=tmp)
                if grp is not None:
                    g_k = tmp @ onehot32
                    grp[k, r0:r1] = g_k + a_grp
                    tot[k, r0:r1] = g_k.sum(axis=1) + a_tot
                else:
                    tot[k, r0:r1] = tmp.sum(axis=1, dtype=np.float64) + a_tot
        return tot, grp


def shift_groups(fit, by) -> tuple[str, list, np.ndarray | None]:
    """Group labels and a person x group membership, or wave groups (None)."""
    design = fit.design
    if by is None:
        return "none", ["all"], np.ones((design.n_person, 1), bool)
    if not isinstance(by, pd.Series | str):
        raise FitError(f"by={by!r}: allowed None, 'wave', 'modality', a person-level column "
                       "name or a Series indexed by person_id")
    if isinstance(by, pd.Series):
        by_series = by
        by = None
    else:
        by_series = None
    if by_series is None and by == "wave":
        first = 1 if design.baseline_values is None else 0
        return "wave", [int(w) for w in design.waves[first:]], None
    if by_series is None and by == "modality":
        labels = design.modality_labels
        return "modality", labels, design.modality[:, None] == np.arange(len(labels))[None]
    if by_series is not None:
        col = by_series.reindex(pd.Index(design.person_ids))
        name = str(by_series.name or "group")
    else:
        if fit.cohort is None or by not in fit.cohort.persons.columns:
            have = list(fit.cohort.persons.columns) if fit.cohort is not None else []
            raise FitError(f"by={by!r}: allowed None, 'wave', 'modality', a person-level column "
                           f"of the fit's cohort ({', '.join(have) or 'no cohort attached: '}"
                           f"{'' if have else 'set fit.cohort or pass a Series'}) or a Series "
                           "indexed by person_id")
        persons = fit.cohort.persons.set_index("person_id")
        col = persons[by].reindex(pd.Index(design.person_ids))
        name = str(by)
    if col.isna().any():
        raise FitError(f"by={name!r}: {int(col.isna().sum())} modelled person(s) have no value")
    labels = sorted(col.unique().tolist(), key=str)
    mem = col.to_numpy()[:, None] == np.array(labels, dtype=object)[None]
    return name, labels, mem


def shifted_levels(fit, params: dict, wspec, shifts: list, by: Any, chunk_bytes: int):
    """level (G, K, S, T), own (G, K, S, M, T), adj (G, K, S, M, T) for shifts K."""
    from dtors_bayes.models.predictor import person_effect, time_effect

    model, design = fit.model, fit.design
    fam = model.family_obj
    basis = model.basis(design)
    n, n_t = design.n_person, len(design.waves)
    labels = design.modality_labels
    n_m = len(labels)
    compare = n_m > 1
    n_sample = next(iter(params.values())).shape[0]
    by_name, groups, member = shift_groups(fit, by)
    n_g, n_k = len(groups), len(shifts)
    missing = ~design.interviewed.astype(bool)  # (N, T): shifted when in the group
    onehot = (design.modality[:, None] == np.arange(n_m)[None]).astype(float)
    level = np.zeros((n_g, n_k, n_sample, n_t))
    own = np.zeros((n_g, n_k, n_sample, n_m, n_t))
    adj = np.zeros((n_g, n_k, n_sample, n_m, n_t))
    per_chunk = max(1, int(chunk_bytes // (8 * max(n, 1) * (3 if fam.link == "logit" else 1))))
    persons = np.arange(n)
    parts = list(zip(fam.parts, ("", "pos_"), strict=False))
    for s0 in range(0, n_sample, per_chunk):
        s1 = min(n_sample, s0 + per_chunk)
        p = {k: v[s0:s1] for k, v in params.items()}
        aux = {k: p[k][:, None] for k in fam.aux}
        w = wspec.chunk(s0, s1)
        w = np.ones((1, n)) if w is None else w
        w_full = np.broadcast_to(w, (s1 - s0, n))
        wsum = w_full.sum(axis=1)
        wmod = w_full @ onehot
        shift_k = [sh if np.ndim(sh) == 0 else sh[s0:s1, None] for sh in shifts]
        cells0 = design.cells(basis, persons, np.zeros(n, int))
        person = {part: person_effect(p, cells0, prefix=pre) for part, pre in parts}
        for j in range(n_t):
            cells = design.cells(basis, persons, np.full(n, j))
            etas = {part: person[part] + time_effect(p, cells, prefix=pre,
                                                     by_time=model.modality_by_time)
                    for part, pre in parts}
            kernels = [ShiftKernel(fam, etas, aux, w, design.trials)]
            if compare:
                # Modality terms at wave j, on one dummy person: the counterfactual eta for
                # modality m is eta - e[z_i] + e[m] (the predictor is additive in modality).
                dummy = design.cells(basis, np.zeros(n_m, int), np.full(n_m, j),
                                     modality=np.arange(n_m))
                e = {part: time_effect(p, dummy, prefix=pre, by_time=model.modality_by_time)
                     for part, pre in parts}
                for m in range(n_m):
                    cf = {part: etas[part] - e[part][:, design.modality]
                          + e[part][:, [m]] for part in etas}
                    kernels.append(ShiftKernel(fam, cf, aux, w, design.trials))
            k0 = kernels[0]
            for g in range(n_g):
                if member is None:
                    shifted = missing[:, j] if groups[g] == int(design.waves[j]) else \
                        np.zeros(n, bool)
                else:
                    shifted = missing[:, j] & member[:, g]
                d_idx = np.flatnonzero(shifted)
                keep = (~shifted).astype(float)
                const_l = k0.const(keep)
                const_o = k0.const(onehot * keep[:, None]) if compare else None
                const_a = [kern.const(keep) for kern in kernels[1:]]
                if d_idx.size:
                    var_l, var_o = k0.shifted(d_idx, shift_k, onehot[d_idx] if compare else None)
                    var_a = [kern.shifted(d_idx, shift_k, None)[0] for kern in kernels[1:]]
                else:
                    var_l = np.zeros((n_k, s1 - s0))
                    var_o = np.zeros((n_k, s1 - s0, n_m))
                    var_a = [var_l] * (len(kernels) - 1)
                level[g, :, s0:s1, j] = (const_l[None] + var_l) / wsum[None]
                if compare:
                    with np.errstate(invalid="ignore", divide="ignore"):
                        own[g, :, s0:s1, :, j] = (const_o[None] + var_o) / wmod[None]
                    for m in range(n_m):
                        adj[g, :, s0:s1, m, j] = (const_a[m][None] + var_a[m]) / wsum[None]
    return by_name, groups, level, own, adj
