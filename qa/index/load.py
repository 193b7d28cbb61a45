"""Loading a published build, verified, and the vectors a later build reuses."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import faiss
import numpy as np

from ..embed import Embedder, Vectors
from ..errors import IndexCorruptError, IndexMismatchError, IndexNotBuiltError
from ..store.bm25 import Bm25
from ..store.folder import FolderStore
from ..store.tables import Chunks, SentenceRanges, Spans
from ..types import Document
from .files import (
    CURRENT,
    DATA_FILES,
    FORMAT,
    LEXICAL,
    MANIFEST,
    MAPPED,
    OLD_VECTOR_FILES,
    PASSAGE_TEMPLATE,
    VECTOR_FILES,
    check_embedder,
    index_exists,
    mapped,
    read_manifest,
    records,
    verified,
    verified_file,
)
from .model import Index

log = logging.getLogger(__name__)


def vector_cache(previous: Index) -> dict[str, Vectors]:
    """Text -> vector from the previous build (same embedder), so unchanged texts are not re-embedded."""
    store = previous.store
    if not isinstance(store, FolderStore):
        return {}
    titles = {d.doc_id: d.title for d in previous.documents.values()}
    template = previous.manifest["chunking"].get("passage_template", PASSAGE_TEMPLATE)
    return _text_vectors(
        {
            "chunks": [template.format(title=titles[c.doc_id], text=c.text) for c in previous.chunks],
            "sentences": [s.text for s in previous.sentences],
            "background": previous.background,
        },
        {
            "chunks": store.chunk_vectors,
            "sentences": store.sentence_vectors,
            "background": previous.background_vectors,
        },
    )


def older_vectors(index_dir: Path, embedder_id: str) -> dict[str, Vectors]:
    """Text -> vector from a published build that does not load as this version's index (an older
    format, or one lacking a newer file), when the same embedder made it: only the vector files and
    their texts are read (checksums verified)."""
    if not index_exists(index_dir):
        return {}
    path = (index_dir / CURRENT).resolve()
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT or manifest["embedder"]["id"] != embedder_id:
            return {}
        jsonl_texts = "chunks.jsonl" in manifest.get("files", {})
        names = OLD_VECTOR_FILES if jsonl_texts else VECTOR_FILES
        read = {name: verified(path, name, manifest) for name in names}
        return _text_vectors(
            _stored_texts(read, manifest["chunking"].get("passage_template", PASSAGE_TEMPLATE), jsonl_texts),
            {
                kind: faiss.deserialize_index(np.frombuffer(read[f"{kind}.faiss"], dtype=np.uint8))
                for kind in ("chunks", "sentences", "background")
            },
        )
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, IndexCorruptError):
        return {}  # nothing usable: embed everything


def _check_counts(path: Path, counts: dict[str, int], found: dict[str, list[int]]) -> None:
    """Raise :class:`IndexCorruptError` unless every count ``found`` (per kind) is the manifest's."""
    if any(n != counts[kind] for kind, ns in found.items() for n in ns):
        raise IndexCorruptError(f"the index in {path} has inconsistent counts: run `qa index --force`")


def _stored_texts(read: dict[str, bytes], template: str, jsonl_texts: bool) -> dict[str, list[str]]:
    """Each kind's texts, in row order, from a build's files ``read`` (by name); an older build kept its
    chunks and sentences as JSONL, a newer one as tables over its documents."""
    documents = [Document(**row) for row in records(read["documents.jsonl"])]
    titles = {d.doc_id: d.title for d in documents}
    if jsonl_texts:
        chunks = [(str(r["doc_id"]), str(r["text"])) for r in records(read["chunks.jsonl"])]
        sentences = [str(r["text"]) for r in records(read["sentences.jsonl"])]
    else:
        chunks = [(c.doc_id, c.text) for c in Chunks.read(read["chunks.npy"], documents)]
        sentences = [s.text for s in Spans.read(read["sentences.npy"], documents)]
    return {
        "chunks": [template.format(title=titles[doc], text=text) for doc, text in chunks],
        "sentences": sentences,
        "background": [str(r["text"]) for r in records(read["background.jsonl"])],
    }


def _text_vectors(texts: dict[str, list[str]], vectors: dict[str, faiss.Index]) -> dict[str, Vectors]:
    """Text -> stored vector, for each kind's texts in row order and its FAISS index."""
    cache: dict[str, Vectors] = {}
    for kind, rows in texts.items():
        stored = vectors[kind]
        for text, vector in zip(rows, stored.reconstruct_n(0, stored.ntotal), strict=True):
            cache[text] = vector
    return cache


def load_previous(index_dir: Path, embedder_id: str) -> Index | None:
    try:
        previous = load_index(index_dir)
    except (IndexNotBuiltError, IndexCorruptError, IndexMismatchError):  # rebuilt from scratch
        return None
    return previous if previous.embedder_id == embedder_id else None


def load_index(index_dir: Path, embedder: Embedder | None = None) -> Index:
    """Load and verify the published build; with ``embedder``, refuse an index built by another model.

    Raises :class:`IndexNotBuiltError`, :class:`IndexCorruptError` or :class:`IndexMismatchError`.
    """
    if not index_exists(index_dir):
        raise IndexNotBuiltError(f"no index in {index_dir}: run `qa index` first")
    path = (index_dir / CURRENT).resolve()
    manifest = read_manifest(path)
    if embedder is not None:
        check_embedder(manifest, embedder, f"the index in {index_dir}")
    # vector files are checked as they stream through the hash, then memory-mapped, never copied
    payload = {name: verified(path, name, manifest) for name in DATA_FILES if name not in MAPPED}
    for name in MAPPED:
        verified_file(path, name, manifest)
    try:
        documents = [Document(**row) for row in records(payload["documents.jsonl"])]
        chunks = Chunks.read(payload["chunks.npy"], documents)
        sentences = Spans.read(payload["sentences.npy"], documents)
        background = [str(row["text"]) for row in records(payload["background.jsonl"])]
        chunk_vectors = mapped(path / "chunks.faiss")
        sentence_vectors = mapped(path / "sentences.faiss")
        background_vectors = mapped(path / "background.faiss")
        lexical_models = {name: Bm25.load(path / "lexical" / name) for name in LEXICAL}
    except (TypeError, ValueError, RuntimeError, KeyError) as exc:
        raise IndexCorruptError(
            f"the index in {path} cannot be read ({exc}): run `qa index --force`"
        ) from None
    found = {
        "documents": [len(documents), len({d.doc_id for d in documents})],
        "chunks": [len(chunks), chunk_vectors.ntotal, *(model.size for model in lexical_models.values())],
        "sentences": [len(sentences), sentence_vectors.ntotal],
        "background": [background_vectors.ntotal],
    }
    _check_counts(path, {**manifest["counts"], "background": len(background)}, found)
    return Index(
        path=path,
        manifest=manifest,
        documents={d.doc_id: d for d in documents},
        chunks=chunks,
        sentences=sentences,
        store=FolderStore(chunk_vectors, sentence_vectors, lexical_models),
        background=background,
        background_vectors=background_vectors,
        chunk_sentences=SentenceRanges.of(chunks, sentences),
    )
