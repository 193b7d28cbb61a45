"""The index: its array model (``model``), the build (``build``), the on-disk format with publish, lock and
verify (``files``), loading (``load``), segments of changes laid over a build (``segments``) and the
journal that makes a build resumable (``journal``)."""

from ..store.tables import Chunks, SentenceRanges, Spans
from .build import BuildReport, build_index
from .load import load_index
from .model import Index, Segment

__all__ = [
    "BuildReport",
    "Chunks",
    "Index",
    "Segment",
    "SentenceRanges",
    "Spans",
    "build_index",
    "load_index",
]
