"""Exceptions raised by dtors_bayes.

Subclassing the built-ins keeps ``except ValueError`` working for users who do not
know our hierarchy.
"""

from __future__ import annotations


class DtorsError(Exception):
    """Base class of every error raised on purpose by dtors_bayes."""


class CohortError(DtorsError, ValueError):
    """The cohort data break the data contract.

    The message lists every problem found, one per line, each naming the column, the
    number of rows, the first few person ids and what is allowed.
    """

    def __init__(self, problems: list[str] | str):
        if isinstance(problems, str):
            problems = [problems]
        self.problems = list(problems)
        head = f"{len(self.problems)} problem(s) in the cohort data:"
        super().__init__(head + "\n" + "\n".join(f"  - {p}" for p in self.problems))


class SpecError(DtorsError, ValueError):
    """A model specification (arguments or a TOML spec) is invalid."""


class ModelError(DtorsError, ValueError):
    """A model cannot be built for this cohort (unknown family, outcome not in cohort...)."""


class FitError(DtorsError, RuntimeError):
    """A fit or a saved fit cannot be used as asked."""
