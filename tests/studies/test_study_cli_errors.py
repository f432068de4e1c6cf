"""``dtors-bayes study`` on broken study files: one clear message, non-zero exit, no traceback.

The mistakes of issue 16: malformed TOML, a file without scenarios, a misplaced key (which
used to run every replicate into the same error and exit 0), and a study whose tasks all
fail at run time.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import pandas as pd
import pytest

from dtors_bayes.studies import files
from dtors_bayes.studies.files import StudyFailed, failure_summary, run_study_file
from dtors_bayes.workflow import cli

GOOD_METHOD = '[[methods]]\nname = "m"\n[methods.model]\noutcome = "acquisitive_crime"\n'
GOOD_SCENARIO = '[[scenarios]]\nname = "s"\n[scenarios.simulate]\nn_persons = 100\n'


def _run(tmp_path, capsys, text: str) -> tuple[int, str]:
    path = tmp_path / "study.toml"
    path.write_text(text)
    rc = cli.main(["study", str(path), "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err


def test_malformed_toml(tmp_path, capsys):
    rc, err = _run(tmp_path, capsys, "[study\nname = 'x'\n")
    assert rc == 1
    assert "is not valid TOML" in err and "line 1" in err and "fix:" in err


def test_no_scenarios(tmp_path, capsys):
    rc, err = _run(tmp_path, capsys, '[study]\nname = "x"\n' + GOOD_METHOD)
    assert rc == 1
    assert "no [[scenarios]] table" in err and "fix: add a [[scenarios]] table" in err


@pytest.mark.parametrize(("text", "expected"), [
    ('[study]\nreplicates = 2\n[[scenarios]]\nname = "s"\nn_persons = 100\n' + GOOD_METHOD,
     "[[scenarios]] #1 unknown key 'n_persons' (it belongs in [scenarios.simulate])"),
    (GOOD_SCENARIO + GOOD_METHOD + 'famly = "bernoulli"\n',
     "[methods.model] of [[methods]] #1 unknown key 'famly' (did you mean 'family'?)"),
    ('[study]\ndraws = 10\n' + GOOD_SCENARIO + GOOD_METHOD,
     "[study] unknown key 'draws' (it belongs in [sampler])"),
    (GOOD_SCENARIO.replace("n_persons", "n_person") + GOOD_METHOD,
     "[scenarios.simulate] of [[scenarios]] #1 unknown key 'n_person' (did you mean "
     "'n_persons'?)"),
    (GOOD_SCENARIO + GOOD_METHOD + '[methods.estimate]\nweigting = "none"\n',
     "[methods.estimate] of [[methods]] #1 unknown key 'weigting' (did you mean 'weighting'?)"),
])
def test_misplaced_key_is_refused_before_running(tmp_path, capsys, monkeypatch, text, expected):
    def never(**kwargs):  # pragma: no cover - the point is that it is never reached
        raise AssertionError("the study ran")

    monkeypatch.setattr(files, "coverage_study", never)
    rc, err = _run(tmp_path, capsys, text)
    assert rc == 1
    assert expected in err


@dataclass
class _Result:
    failures: list
    n_computed: int = 0
    n_cached: int = 0
    written: list = field(default_factory=list)

    def write(self, out):
        self.written.append(out)

    def summary(self):
        return pd.DataFrame()


def test_all_tasks_failing_exits_non_zero_with_a_summary(tmp_path, capsys, monkeypatch):
    err = "ModelError: cannot build the model:\n  - outcome 'nope' is not an outcome"
    fails = [(f"s__m__r{i:04d}", err) for i in range(10)]
    monkeypatch.setattr(files, "coverage_study", lambda **kw: _Result(fails))
    rc, text = _run(tmp_path, capsys, GOOD_SCENARIO + GOOD_METHOD)
    assert rc == 1
    assert "all 10 task(s) of the study failed" in text
    assert "10 task(s): ModelError: cannot build the model: outcome 'nope'" in text
    assert "first: s__m__r0000, s__m__r0001, s__m__r0002" in text


def test_some_tasks_failing_warns_once_with_a_summary(tmp_path, monkeypatch):
    fails = [("s__m__r0003", "TypeError: boom")]
    monkeypatch.setattr(files, "coverage_study", lambda **kw: _Result(fails, n_computed=9))
    path = tmp_path / "study.toml"
    path.write_text(GOOD_SCENARIO + GOOD_METHOD)
    with pytest.warns(UserWarning, match=r"1 task\(s\) of the study failed .*TypeError: boom"):
        run_study_file(path, tmp_path / "out", progress=False)
    monkeypatch.setattr(files, "coverage_study", lambda **kw: _Result(fails))
    with warnings.catch_warnings(), pytest.raises(StudyFailed, match="all 1 task"):
        warnings.simplefilter("error")
        run_study_file(path, tmp_path / "out", progress=False)


def test_failure_summary_groups_errors():
    lines = failure_summary([("a", "E: x"), ("b", "E: y"), ("c", "E: x")])
    assert lines == ["2 task(s): E: x (first: a, c)", "1 task(s): E: y (first: b)"]
