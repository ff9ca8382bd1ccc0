"""The version, kept in one place: packaging metadata and `nopflow --version` both read it."""

__version__ = "0.1.0"
