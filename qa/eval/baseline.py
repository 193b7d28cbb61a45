"""The plain-dense baseline: the ten-line pipeline a user would otherwise write.

The same e5 model embeds every paragraph ("passage: " + text, no title), FAISS finds the nearest ones
to the question, and the top paragraph is the answer. ``qa eval`` reports it next to vnqa's own
retrievers so a regression against it shows at a glance. Paragraph vectors are cached on disk by text,
so a rerun over the same articles embeds nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

import faiss
import numpy as np

from ..embed import Embedder, Vectors
from ..lang.text import paragraph_spans
from ..types import Document, Span

BATCH = 32


def paragraphs(document: Document) -> list[Span]:
    """The body's blank-line separated paragraphs, whitespace trimmed, in order (a first paragraph that
    is just the title is left out: a title alone is not a passage, and English titles pull English
    questions towards it)."""
    text = document.text
    spans = [Span(document.doc_id, s, e, text[s:e]) for s, e in paragraph_spans(text)]
    return spans[1:] if spans and spans[0].text == document.title else spans


class PlainDense:
    """Paragraphs of a set of documents in one flat FAISS inner-product index."""

    def __init__(self, spans: list[Span], vectors: Vectors) -> None:
        self.spans = spans
        self._index = faiss.IndexFlatIP(vectors.shape[1])
        self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        self._doc_rows: dict[str, list[int]] = {}
        for row, span in enumerate(spans):
            self._doc_rows.setdefault(span.doc_id, []).append(row)

    @classmethod
    def build(
        cls,
        documents: Iterable[Document],
        embedder: Embedder,
        cache: Path | None = None,
        tick: Callable[[int], object] = lambda n: None,
    ) -> PlainDense:
        """Embed the paragraphs of ``documents`` (reusing vectors cached in ``cache``)."""
        spans = [p for doc in documents for p in paragraphs(doc)]
        vectors = cached_passages(embedder, [s.text for s in spans], cache, tick)
        return cls(spans, vectors)

    def search(self, query: Vectors, k: int, exclude: Collection[str] = ()) -> list[tuple[Span, float]]:
        """The ``k`` paragraphs nearest to the unit vector ``query``, best first, without ``exclude``d
        documents' paragraphs."""
        left_out = sum(len(self._doc_rows.get(d, ())) for d in exclude)
        depth = min(self._index.ntotal, k + left_out)
        scores, rows = self._index.search(np.asarray(query, np.float32).reshape(1, -1), depth)
        found = [
            (self.spans[r], float(s))
            for s, r in zip(scores[0], rows[0], strict=True)
            if r >= 0 and self.spans[r].doc_id not in exclude
        ]
        return found[:k]


def cached_passages(
    embedder: Embedder, texts: list[str], folder: Path | None, tick: Callable[[int], object] = lambda n: None
) -> Vectors:
    """Passage vectors of ``texts`` (shape ``(len(texts), dim)``), embedding only those not cached yet in
    ``folder`` (keyed on the embedder id and each text's SHA-256); ``tick(n)`` after each batch."""
    keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
    stem = hashlib.sha256(embedder.id.encode()).hexdigest()[:12]
    cache = _read_cache(folder, stem) if folder is not None else {}
    todo = sorted(
        {k: t for k, t in zip(keys, texts, strict=True) if k not in cache}.items(), key=lambda kv: len(kv[1])
    )
    for i in range(0, len(todo), BATCH):
        batch = todo[i : i + BATCH]
        for (key, _), vector in zip(batch, embedder.embed_passages([t for _, t in batch]), strict=True):
            cache[key] = vector
        tick(len(batch))
    if folder is not None and todo:
        _write_cache(folder, stem, cache)
    if not keys:
        return np.zeros((0, embedder.dim), np.float32)
    return np.stack([cache[k] for k in keys]).astype(np.float32)


def _read_cache(folder: Path, stem: str) -> dict[str, Vectors]:
    """Text key -> vector from ``folder``'s cache of one embedder (``stem``); empty when there is none."""
    if not (folder / f"{stem}.json").is_file():
        return {}
    stored = json.loads((folder / f"{stem}.json").read_text(encoding="utf-8"))
    matrix = np.load(folder / f"{stem}.npy")
    if len(stored) != len(matrix):  # a crash came between the two renames: start afresh
        return {}
    return {key: matrix[row] for row, key in enumerate(stored)}


def _write_cache(folder: Path, stem: str, cache: dict[str, Vectors]) -> None:
    """Replace ``folder``'s cache of one embedder (``stem``) with ``cache``, each file atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    names = list(cache)
    np.save(folder / f"{stem}.tmp.npy", np.stack([cache[k] for k in names]).astype(np.float32))
    (folder / f"{stem}.tmp.json").write_text(json.dumps(names), encoding="utf-8")
    (folder / f"{stem}.tmp.npy").replace(folder / f"{stem}.npy")
    (folder / f"{stem}.tmp.json").replace(folder / f"{stem}.json")
