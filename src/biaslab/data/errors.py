"""The data's own errors: each message is one line, printed as it is (exit 2)."""

from __future__ import annotations


class DataUnavailable(RuntimeError):
    """A dataset that is neither on disk nor downloadable, or whose files are unreadable, or a
    data folder its cache cannot be written in."""


class BadData(DataUnavailable):
    """Data that is not the dataset: wrong shape, dtype or labels, or non-finite inputs."""
