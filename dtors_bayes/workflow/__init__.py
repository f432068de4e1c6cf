"""Workflow: analysis specs, the dispatcher of a fit's analyses, and the command line.

- :mod:`~dtors_bayes.workflow.spec`: TOML analysis specs checked against a fixed schema (all
  problems at once); the bundled specs live in ``specs/`` (package data);
- :mod:`~dtors_bayes.workflow.analyses`: the one place that dispatches ``fit.estimate`` over
  weighting modes and binds ``estimate`` / ``sensitivity`` / ``impute`` to
  :class:`~dtors_bayes.models.fit.Fit`;
- :mod:`~dtors_bayes.workflow.cli` (the parser and ``main``),
  :mod:`~dtors_bayes.workflow.handlers` (the commands' handlers and the helpers they share),
  :mod:`~dtors_bayes.workflow.demo`, :mod:`~dtors_bayes.workflow.commands` (``sensitivity``,
  ``compare``), :mod:`~dtors_bayes.workflow.economics_command` and
  :mod:`~dtors_bayes.workflow.causal_command`: the ``dtors-bayes`` command line, thin over the
  library; :mod:`~dtors_bayes.workflow.outputs` writes and reads the result folders of
  ``economics`` and ``causal``.

The top room: it may import every other room; nothing in the package imports it except the
package's ``__init__`` (which binds the Fit methods) and ``__main__``.
"""
