"""``python -m dtors_bayes``: the ``dtors-bayes`` command line."""

from __future__ import annotations

import sys

from dtors_bayes.workflow.cli import main

if __name__ == "__main__":
    sys.exit(main())
