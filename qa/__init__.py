"""vnqa: offline question answering over a folder of Vietnamese news articles."""

from .config import Settings, get_settings, installed_version

__version__ = installed_version()

from .embed import Embedder, FakeEmbedder, load_embedder
from .engine import Engine
from .errors import QAError
from .index.build import build_index
from .index.load import load_index
from .types import Answer, Chunk, Document, Hit, Source, Span

__all__ = [
    "Answer",
    "Chunk",
    "Document",
    "Embedder",
    "Engine",
    "FakeEmbedder",
    "Hit",
    "QAError",
    "Settings",
    "Source",
    "Span",
    "build_index",
    "get_settings",
    "load_embedder",
    "load_index",
]
