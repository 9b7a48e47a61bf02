"""User-facing errors.

Every mistake a user can make (a bad preset, a corrupt file, a wrong flag) raises
:class:`OccposeError` with a one-line message that names the file, key or flag and what was
expected. The command line prints the message and exits with status 2; library callers catch it
like any exception. Programming errors stay ordinary exceptions with tracebacks.
"""

from __future__ import annotations


class OccposeError(Exception):
    """A user mistake: bad input, bad flag, bad file. Carries a one-line message."""

    exit_code = 2


class ConfigError(OccposeError):
    """A preset or command-line override that does not match the schema."""


class DatasetError(OccposeError):
    """A benchmark directory or arrays file that is missing, corrupt or inconsistent."""


class LevelNotReachedError(OccposeError):
    """An occlusion level that the bounded occluder search could not reach."""

    exit_code = 3
