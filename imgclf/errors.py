"""The one exception the CLI turns into a one-line error and a non-zero exit."""


class CliError(Exception):
    """A user-facing failure: the message is printed as one line, the exit code is 1."""
