"""ipcbench: throughput and latency of Python's inter-process communication, measured honestly."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__version__ = "0.1.0"
__all__ = ["__version__", "load", "run"]


def run(**options: Any) -> pd.DataFrame:
    """Run a sweep with the CLI's option names (``sizes=["64", "4K"]``, ``quick=True``, ...)
    and return the rows as a pandas DataFrame. Writes the same result files as the CLI."""
    import pandas as pd

    from ipcbench.errors import IpcbenchError
    from ipcbench.harness.runner import Runner
    from ipcbench.harness.settings import build_settings
    from ipcbench.options import BY_KEY

    unknown = sorted(set(options) - set(BY_KEY))
    if unknown:
        valid = ", ".join(sorted(BY_KEY))
        raise IpcbenchError(f"unknown option {unknown[0]!r} for ipcbench.run(); valid: {valid}")
    result = Runner(build_settings(options)).run()
    return pd.DataFrame(result.rows)


def load(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Load result files (a CSV, a machine folder or the results root) as one DataFrame."""
    from ipcbench.results.loader import load as _load

    return _load(path)
