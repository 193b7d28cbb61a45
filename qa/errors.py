"""Errors that the CLI and API turn into one clear line or a JSON ``{"detail": ...}``.

QAError
├── CorpusError                 articles cannot be read
│   ├── EmptyCorpusError        no usable article in the folder
│   └── UnreadableFileError     an article file cannot be read or decoded
├── IndexUnusableError          the built index cannot be used
│   ├── IndexNotBuiltError      there is no index yet
│   ├── IndexMismatchError      built with another embedder or other settings
│   ├── IndexCorruptError       missing, truncated or checksum-failing files
│   └── StoreError              the database store cannot be reached or used
├── ModelError                  the embedding model cannot be loaded
├── QuestionError               the question itself is unusable (empty, too long)
├── UploadError                 an uploaded file cannot be added (bad name, unusable content)
│   ├── UploadsOffError         writes are off, or sent from another site
│   ├── ArticleExistsError      the name is taken and the upload does not replace it
│   └── ArticleNotFoundError    no article of that id to remove
├── GenerationError             the LLM could not give a reply (the extractive answer stands in)
└── NotServingError             no index is loaded to answer with

The server maps each to its HTTP status (qa/server/problems.py); no error carries one.
"""

from __future__ import annotations

import errno


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


class IndexUnusableError(QAError):
    """The built index cannot be used."""


class IndexNotBuiltError(IndexUnusableError):
    """There is no index at the configured path."""


class IndexMismatchError(IndexUnusableError):
    """The index was built with another embedder or incompatible settings."""


class IndexCorruptError(IndexUnusableError):
    """An index file is missing, truncated or fails its checksum."""


class IndexWriteError(QAError):
    """The index could not be written (a full disk, no permission); what was half written is removed."""

    def __init__(self, path: object, exc: OSError) -> None:
        why = exc.strerror or type(exc).__name__
        hint = ": free some space and index again" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ""
        super().__init__(f"cannot write the index in {path}: {why}{hint}")


class StoreError(IndexUnusableError):
    """The database holding the index cannot be reached or used."""


class ModelError(QAError):
    """The embedding model cannot be loaded."""


class QuestionError(QAError):
    """The question cannot be answered as given (empty, too long, ...)."""


class NotServingError(QAError):
    """No engine is loaded to answer with (no articles yet, a corrupt or mismatched index): HTTP 503."""


class UploadError(QAError):
    """An uploaded file cannot be added (bad name, unusable content)."""


class UploadsOffError(UploadError):
    """Adding and removing articles is off, or the request comes from another site."""


class ArticleExistsError(UploadError):
    """An article of that name is in the folder already, and the upload does not replace it."""


class ArticleNotFoundError(UploadError):
    """No article of that id (or its file is not in the articles folder)."""


class GenerationError(QAError):
    """The LLM could not give a reply (down, timed out, broke off, answered with an error)."""
