"""One exception family for problems a user can fix.

Every error a user can act on is a :class:`PolicymlError`: its message names the problem and its
``hint`` the fix. Entry points print ``policyml: error: <message> (fix: <hint>)`` on one line and exit
non-zero instead of showing a traceback.
"""

from __future__ import annotations


class PolicymlError(Exception):
    """A problem with the user's input, data or environment, with the fix to apply."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} (fix: {self.hint})" if self.hint else self.message


class ConfigError(PolicymlError):
    """The configuration asks for something the pipeline cannot do."""


class DataError(PolicymlError):
    """An input file is missing, corrupted, truncated or lacks required content."""


class DownloadError(DataError):
    """A download failed after its retries."""


class OutputError(PolicymlError):
    """An output cannot be written: read-only or full disk, no permission, a file in the way."""


def one_line(error: BaseException) -> str:
    """Format an error the way entry points print it: a single line, no traceback."""
    text = str(error) if isinstance(error, PolicymlError) else f"{type(error).__name__}: {error}"
    return "policyml: error: " + " ".join(text.split())
