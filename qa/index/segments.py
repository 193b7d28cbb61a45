"""Articles changed since the published build, served beside it until the next build: a segment.

Rebuilding a large index for one changed article rewrites every file and rebuilds BM25 and the HNSW
graph (minutes at 35,000 articles). A segment holds only what changed: the articles added or changed
since the build (their chunks, sentences, vectors and BM25 tokens) and the ids of the build's articles
it hides (deleted, or changed and so replaced). It always describes the whole difference between the
build and the folder, so each update writes a new one from the build, the previous segment (whose
articles and vectors it reuses) and the folder::

    index_dir/
        current -> build-.../
        segment -> segment-20261201T150000-4f2a/     replaced atomically, like ``current``
        segment-20261201T150000-4f2a/
            manifest.json     format, the build it lies on, counts, file checksums
            articles.json     relative path -> SHA-256 of the articles it holds; ids it hides
            documents.jsonl  chunks.jsonl  sentences.jsonl     as in a build; chunk ids follow the build's
            chunks.npy  sentences.npy                           their vectors (float32, no pickle)
            tokens.json       each chunk's tokens for each BM25 model

A new build (``qa index``, or the updater when a segment grows past :func:`fits`) takes every change
in and removes the segment. A segment whose build is no longer current is ignored.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Settings
from ..embed import Embedder, Vectors
from ..errors import IndexCorruptError
from ..ingest.corpus import Corpus, Skipped, document_id, read_corpus, relative_path
from ..store.layered import LayeredStore, SegmentLexicon
from ..store.tables import Chunks, SentenceRanges, Spans
from ..types import Chunk, Document, Span
from .build import chunk_units, embed_missing
from .files import (
    CURRENT,
    LEXICAL,
    MANIFEST,
    PASSAGE_TEMPLATE,
    SEGMENT,
    jsonl,
    lock,
    publish_folder,
    records,
    remove_segment,
    verified,
)
from .journal import Journal
from .load import load_index
from .model import Index, Progress, Segment

log = logging.getLogger(__name__)

FORMAT = "vnqa-segment"
FORMAT_VERSION = 1
FILES = (
    "articles.json",
    "documents.jsonl",
    "chunks.jsonl",
    "sentences.jsonl",
    "chunks.npy",
    "sentences.npy",
    "tokens.json",
)
# A segment is searched exactly and its hidden rows make the build's searches deeper: past this many
# chunks (its own plus those it hides), a new build is cheaper to serve.
MIN_LIMIT = 2_000
SHARE_LIMIT = 0.1  # of the build's chunks


def fits(chunks: int, hidden: int, build_chunks: int) -> bool:
    """Whether a segment of ``chunks`` chunks hiding ``hidden`` of the build's is small enough to serve."""
    return chunks + hidden <= max(MIN_LIMIT, SHARE_LIMIT * build_chunks)


def update(
    settings: Settings, embedder: Embedder, served: Index, on_progress: Progress | None = None
) -> Index | None:
    """``served``'s build with the folder's changes since laid over it as a published segment (the
    build alone when nothing differs from it); None when a segment cannot stand in for a new build: the
    changes are too many (:func:`fits`), or the build is not the one current in the index folder (a
    newer build is, or a database serves it to a machine without the folder). The build may be served
    from the folder or from a database it was published to: the segment stays in the folder either way.

    Only the articles changed since the previous segment are read and embedded; texts whose vectors the
    build or the previous segment holds are not embedded again.
    """
    base = served.base or served
    index_dir = settings.index_dir

    def current() -> bool:  # false too for a database's build served where no folder holds it
        return (index_dir / CURRENT).resolve() == base.path

    if not current():
        return None
    with lock(index_dir):
        if not current():  # a build published meanwhile
            return None
        previous = served.segment
        corpus, documents, files, hidden = _changes(settings.seeds_dir, base, previous)
        if previous is not None and (files, hidden) == (previous.files, previous.hidden):
            return served  # the folder is as the served segment holds it
        if not documents and not hidden:
            remove_segment(index_dir)
            return base
        chunks, sentences, chunk_inputs = chunk_units(documents, settings, first_chunk=len(base.chunks))
        hidden_rows = len(base.chunks.rows_of(hidden))
        if not fits(len(chunks), hidden_rows, len(base.chunks)):
            log.info("%d changed chunks are too many for a segment: building the index anew", len(chunks))
            return None
        cache = _vectors_of(base, hidden, previous)
        sentence_inputs = [s.text for s in sentences]
        todo = sorted({t for t in chunk_inputs + sentence_inputs if t not in cache}, key=len)
        journal = Journal(index_dir, embedder.id, embedder.dim)  # the next build takes them from there
        embed_missing(embedder, journal, cache, todo, on_progress)
        units_ = (chunks, sentences, chunk_inputs)
        segment = _segment(base, files, hidden, documents, units_, cache, corpus, embedder.dim)
        segment = replace(segment, name=_publish(index_dir, segment))
        log.info(
            "segment %s: %d articles changed or added, %d hidden, %d texts embedded",
            segment.name,
            len(documents),
            len(hidden),
            len(todo),
        )
        return laid_over(base, segment)


def _segment(
    base: Index,
    files: dict[str, str],
    hidden: frozenset[str],
    documents: list[Document],
    units_: tuple[list[Chunk], list[Span], list[str]],
    cache: dict[str, Vectors],
    corpus: Corpus,
    dim: int,
) -> Segment:
    """The segment of these changes (named when published), its vectors (of ``dim``) taken from ``cache``."""
    chunks, sentences, chunk_inputs = units_
    return Segment(
        name="",  # given when published
        base=base.path.name,
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        files=files,
        hidden=hidden,
        documents=documents,
        chunks=chunks,
        sentences=sentences,
        chunk_vectors=_matrix([cache[t] for t in chunk_inputs], dim),
        sentence_vectors=_matrix([cache[s.text] for s in sentences], dim),
        tokens={name: [tokenise(t) for t in chunk_inputs] for name, tokenise in LEXICAL.items()},
        skipped=tuple(corpus.skipped),
    )


def _changes(
    folder: Path, base: Index, previous: Segment | None
) -> tuple[Corpus, list[Document], dict[str, str], frozenset[str]]:
    """What differs in ``folder`` from build ``base``: the articles read anew, every article the segment
    holds (those of ``previous`` still as they were, and the new ones), the files it holds (relative path
    -> SHA-256), and the ids of the build's articles it hides."""
    built = {f["path"]: f["sha256"] for f in base.manifest["inputs"]["corpus"]["files"]}
    held = previous.files if previous is not None else {}
    corpus = read_corpus(folder, known=lambda rel, sha: sha in (built.get(rel), held.get(rel)))
    now = corpus.sha256s()
    hidden = frozenset(document_id(Path(rel)) for rel, sha in built.items() if now.get(rel) != sha)
    kept = [] if previous is None else [d for d in previous.documents if _still(d, folder, held, now)]
    documents = sorted([*kept, *corpus.documents], key=lambda d: d.doc_id)
    files = {rel: now[rel] for rel in sorted(now) if now[rel] != built.get(rel)}
    return corpus, documents, files, hidden


def load(index_dir: Path, embedder: Embedder | None = None) -> Index:
    """The published build (see :func:`qa.index.load_index`) with its segment of changes, if any."""
    base = load_index(index_dir, embedder)
    segment = read(index_dir, base)
    return base if segment is None else laid_over(base, segment)


def published(index_dir: Path) -> str | None:
    """The version (:attr:`Index.version`) that loading ``index_dir`` would give now; None when nothing
    is published."""
    try:
        build = (index_dir / CURRENT).resolve(strict=True).name
    except OSError:
        return None
    name = _segment_name(index_dir)
    if name is None:
        return build
    try:
        manifest = json.loads((index_dir / name / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return build
    return f"{build}+{name}" if manifest.get("base") == build else build


def read(index_dir: Path, base: Index) -> Segment | None:
    """The published segment over ``base`` (None when there is none, or it lies on another build)."""
    name = _segment_name(index_dir)
    if name is None:
        return None
    path = index_dir / name
    try:
        manifest: dict[str, Any] = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"unreadable segment manifest in {path} ({exc}): run `qa index`") from None
    if manifest.get("format") != FORMAT or manifest.get("base") != base.path.name:
        return None
    if manifest.get("format_version") != FORMAT_VERSION:
        return None  # written by another vnqa: the next update or build replaces it
    data = {name: verified(path, name, manifest) for name in FILES}
    try:
        articles = json.loads(data["articles.json"])
        return Segment(
            name=name,
            base=base.path.name,
            built_at=str(manifest["built_at"]),
            files=dict(articles["files"]),
            hidden=frozenset(articles["hidden"]),
            documents=[Document(**r) for r in records(data["documents.jsonl"])],
            chunks=[Chunk(**r) for r in records(data["chunks.jsonl"])],
            sentences=[Span(**r) for r in records(data["sentences.jsonl"])],
            chunk_vectors=np.load(io.BytesIO(data["chunks.npy"]), allow_pickle=False),
            sentence_vectors=np.load(io.BytesIO(data["sentences.npy"]), allow_pickle=False),
            tokens=json.loads(data["tokens.json"]),
            skipped=tuple(Skipped(Path(s["path"]), s["reason"]) for s in manifest.get("skipped", [])),
        )
    except (TypeError, ValueError, KeyError) as exc:
        raise IndexCorruptError(f"the segment in {path} cannot be read ({exc}): run `qa index`") from None


def laid_over(base: Index, segment: Segment) -> Index:
    """``base`` as the segment changes it: its hidden articles gone, the segment's after its rows."""
    hidden = segment.hidden
    chunks = base.chunks.joined(Chunks.of(segment.chunks, segment.documents))
    sentences = base.sentences.joined(Spans.of(segment.sentences, segment.documents))
    hidden_chunks = np.zeros(len(base.chunks), bool)
    hidden_chunks[base.chunks.rows_of(hidden)] = True
    hidden_sentences = np.zeros(len(base.sentences), bool)
    hidden_sentences[base.sentences.rows_of(hidden)] = True
    documents = {k: d for k, d in base.documents.items() if k not in hidden}
    documents.update((d.doc_id, d) for d in segment.documents)
    means = base.manifest.get("lexical", {})
    store = LayeredStore(
        base=base.store,
        vectors={"chunks": segment.chunk_vectors, "sentences": segment.sentence_vectors},
        lexicons={
            name: SegmentLexicon(tokens, float(means.get(name, {}).get("avgdl", 0.0)))
            for name, tokens in segment.tokens.items()
        },
        hidden={"chunks": hidden_chunks, "sentences": hidden_sentences},
    )
    counts = {
        "documents": len(documents),
        "chunks": len(base.chunks) - int(hidden_chunks.sum()) + len(segment.chunks),
        "sentences": len(base.sentences) - int(hidden_sentences.sum()) + len(segment.sentences),
    }
    manifest = {
        **base.manifest,
        "built_at": segment.built_at,
        "counts": counts,
        "segment": {"name": segment.name, "articles": len(segment.documents), "hidden": len(hidden)},
    }
    return replace(
        base,
        manifest=manifest,
        documents=documents,
        chunks=chunks,
        sentences=sentences,
        store=store,
        chunk_sentences=SentenceRanges.of(chunks, sentences),
        base=base,
        segment=segment,
        hidden=np.flatnonzero(hidden_chunks).astype(np.int64),
        memo={},
    )


def _still(document: Document, folder: Path, held: dict[str, str], now: dict[str, str]) -> bool:
    """Whether the folder still holds ``document`` of the previous segment as it was read."""
    rel = relative_path(Path(document.path), folder)
    return rel in held and now.get(rel) == held[rel]


def _vectors_of(base: Index, hidden: frozenset[str], previous: Segment | None) -> dict[str, Vectors]:
    """Text -> vector for the texts of the build's hidden articles and of the previous segment: a changed
    article keeps the vectors of its unchanged sentences."""
    cache: dict[str, Vectors] = {}
    rows = base.chunks.rows_of(hidden)
    for row, vector in zip(rows.tolist(), base.store.vectors_of("chunks", rows), strict=True):
        chunk = base.chunks[row]
        title = base.documents[chunk.doc_id].title
        cache[PASSAGE_TEMPLATE.format(title=title, text=chunk.text)] = vector
    rows = base.sentences.rows_of(hidden)
    for row, vector in zip(rows.tolist(), base.store.vectors_of("sentences", rows), strict=True):
        cache[base.sentences.text(row)] = vector
    if previous is not None:
        titles = {d.doc_id: d.title for d in previous.documents}
        for chunk, vector in zip(previous.chunks, previous.chunk_vectors, strict=True):
            cache[PASSAGE_TEMPLATE.format(title=titles[chunk.doc_id], text=chunk.text)] = vector
        cache.update(zip((s.text for s in previous.sentences), previous.sentence_vectors, strict=True))
    return cache


def _matrix(rows: Sequence[Vectors], dim: int) -> Vectors:
    return np.ascontiguousarray(np.stack(rows), np.float32) if rows else np.zeros((0, dim), np.float32)


def _npy(matrix: Vectors) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, matrix, allow_pickle=False)
    return buffer.getvalue()


def _publish(index_dir: Path, segment: Segment) -> str:
    """Write the segment's folder, point the ``segment`` link at it atomically; the folder's name."""
    payload = {
        "articles.json": json.dumps(
            {"files": segment.files, "hidden": sorted(segment.hidden)}, ensure_ascii=False
        ).encode(),
        "documents.jsonl": jsonl([asdict(d) for d in segment.documents]),
        "chunks.jsonl": jsonl([asdict(c) for c in segment.chunks]),
        "sentences.jsonl": jsonl([asdict(s) for s in segment.sentences]),
        "chunks.npy": _npy(segment.chunk_vectors),
        "sentences.npy": _npy(segment.sentence_vectors),
        "tokens.json": json.dumps(segment.tokens, ensure_ascii=False).encode(),
    }
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "base": segment.base,
        "built_at": segment.built_at,
        "counts": {"documents": len(segment.documents), "chunks": len(segment.chunks)},
        "skipped": [{"path": str(s.path), "reason": s.reason} for s in segment.skipped],
    }
    name = publish_folder(index_dir, SEGMENT, SEGMENT, manifest, payload).name
    remove_segment(index_dir, keep=name)
    return name


def _segment_name(index_dir: Path) -> str | None:
    try:
        return os.readlink(index_dir / SEGMENT)
    except OSError:
        return None
