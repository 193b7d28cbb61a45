"""Errors that the CLI and API turn into one clear line or a JSON ``{"detail": ...}``.

QAError
├── CorpusError                 articles cannot be read
│   ├── EmptyCorpusError        no usable article in the folder
│   └── UnreadableFileError     an article file cannot be read or decoded
├── IndexError_                 the built index cannot be used
│   ├── IndexNotBuiltError      there is no index yet
│   ├── IndexMismatchError      built with another embedder or other settings
│   ├── IndexCorruptError       missing, truncated or checksum-failing files
│   └── StoreError              the database store cannot be reached or used
├── ModelError                  the embedding model cannot be loaded
└── QuestionError               the question itself is unusable (empty, too long)
"""

from __future__ import annotations


class QAError(Exception):
    """Base class: a problem the user can act on, described in one line."""


class CorpusError(QAError):
    """The articles cannot be read."""


class EmptyCorpusError(CorpusError):
    """No usable article was found."""


class UnreadableFileError(CorpusError):
    """An article file cannot be read or decoded; ``reason`` says why, without the path."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"cannot read {path}: {reason}")
        self.path = path
        self.reason = reason


class IndexError_(QAError):
    """The built index cannot be used."""


class IndexNotBuiltError(IndexError_):
    """There is no index at the configured path."""


class IndexMismatchError(IndexError_):
    """The index was built with another embedder or incompatible settings."""


class IndexCorruptError(IndexError_):
    """An index file is missing, truncated or fails its checksum."""


class StoreError(IndexError_):
    """The database holding the index cannot be reached or used."""


class ModelError(QAError):
    """The embedding model cannot be loaded."""


class QuestionError(QAError):
    """The question cannot be answered as given (empty, too long, ...)."""
