"""Reading a saved fit back: the model from its JSON spec, the design from ``constant_data``.

Saved fits are data, never code (netCDF with JSON attributes), so opening one runs nothing."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import xarray as xr

from dtors_bayes.exceptions import FitError
from dtors_bayes.models.design import Design
from dtors_bayes.models.fit import Fit


def load_fit(path: str | Path, cohort=None, *, strict: bool = False) -> Fit:
    """Read a fit written by :meth:`Fit.save`.

    Parameters
    ----------
    path : str or Path
    cohort : Cohort, optional
        When given, its data hash is compared with the one the fit was made from; a mismatch
        warns (or raises ``FitError`` with ``strict=True``) and sets ``fit.data_hash_mismatch``.
    """
    from dtors_bayes.models.change_model import ChangeModel

    path = Path(path)
    if not path.exists():
        raise FitError(f"no fit at {str(path)!r}")
    try:
        tree = xr.open_datatree(path, engine="h5netcdf").load()
    except Exception as err:
        raise FitError(f"{str(path)!r} is not a readable dtors_bayes fit: {err}") from err
    for key in ("spec", "provenance"):
        if key not in tree.attrs:
            raise FitError(f"{str(path)!r} has no {key!r} attribute: not a dtors_bayes fit")
    model = ChangeModel.from_spec(json.loads(tree.attrs["spec"]))
    design = Design.from_dataset(tree["constant_data"].to_dataset())
    fit = Fit(model, design, tree, json.loads(tree.attrs["provenance"]))
    if cohort is not None:
        have, want = cohort.data_hash(), fit.provenance.get("data_hash")
        if have != want:
            fit.data_hash_mismatch = True
            msg = (f"data hash mismatch: the fit in {str(path)!r} was made from data {want}, "
                   f"this cohort is {have}")
            if strict:
                raise FitError(msg)
            warnings.warn(msg, UserWarning, stacklevel=2)
    return fit
