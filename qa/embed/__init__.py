"""The embedding model: the :class:`Embedder` protocol, the packaged e5 model and its conversion
(``convert``), and a fast deterministic fake for tests."""

from ..types import Vectors
from .fake import FakeEmbedder
from .models import load_embedder
from .protocol import E5_NAME, Embedder, e5_id, e5_source

__all__ = ["E5_NAME", "Embedder", "FakeEmbedder", "Vectors", "e5_id", "e5_source", "load_embedder"]
