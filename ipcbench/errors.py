"""One user-error type: the CLI prints its message on one line and exits with code 2."""

from __future__ import annotations


class IpcbenchError(Exception):
    """A problem with the user's input (flags, config, result files) or environment.

    The message must name the fix. Anything else that escapes is a bug and keeps its traceback.
    """

    exit_code = 2


class DeliveryError(Exception):
    """A message was lost, reordered, duplicated, truncated or corrupted in transit."""
