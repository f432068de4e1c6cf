"""``workflow.outputs``: a result folder written by ``write_outputs`` reads back through
``read_outputs`` (the one reader behind ``report --causal`` and ``report --economics``)."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.figure import Figure

from dtors_bayes.exceptions import SpecError
from dtors_bayes.workflow.outputs import read_outputs, write_outputs

KW = {"table_prefix": "x_", "figure_prefix": "fig_", "meta_name": "x.json"}


def _bundle():
    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1], [1, 0])
    table = pd.DataFrame({"name": ["a", "", "NA"], "value": [0.5, None, 2.0]})
    return {"tables": {"t": table}, "figures": [("plane", fig, "A plane")],
            "meta": {"option": "treated", "figures": [["plane", "A plane"],
                                                      ["gone", "never written"]]}}


def test_round_trip(tmp_path):
    paths = write_outputs(_bundle(), tmp_path, **KW)
    assert [p.name for p in paths] == ["x_t.csv", "fig_plane.png", "x.json"]
    res = read_outputs(tmp_path, tables=("t", "absent"), command="x", **KW)
    assert res["meta"]["option"] == "treated"
    assert list(res["tables"]) == ["t"]
    t = res["tables"]["t"]
    assert t["name"].tolist()[::2] == ["a", "NA"] and pd.isna(t["name"].iloc[1])
    assert pd.isna(t["value"].iloc[1]) and t["value"].iloc[2] == 2.0
    assert res["figures"] == [("plane", tmp_path / "fig_plane.png", "A plane")]


def test_not_a_result_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no x\.json \(not a folder written by "
                                                r"dtors-bayes x\)"):
        read_outputs(tmp_path, tables=("t",), command="x", **KW)


def test_unreadable_metadata(tmp_path):
    (tmp_path / "x.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(SpecError, match="cannot read the x results"):
        read_outputs(tmp_path, tables=("t",), command="x", **KW)
