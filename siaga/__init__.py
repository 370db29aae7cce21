"""The `siaga` command: one console script, a subcommand per program."""

__version__ = "0.1.0"
