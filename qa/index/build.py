"""Building the index: read the folder, embed what is new (journaled), publish a verified build."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from tqdm import tqdm

from ..config import Settings
from ..embed import Embedder, Vectors
from ..errors import UnreadableFileError
from ..ingest.chunking import chunk_document
from ..ingest.corpus import Corpus, Skipped, check_folder, read_corpus, type_counts
from ..lang.text import sentence_spans
from ..store.bm25 import Bm25
from ..store.tables import Chunks, Spans
from ..types import Chunk, Document, Span
from .files import (
    FORMAT,
    FORMAT_VERSION,
    LEXICAL,
    PASSAGE_TEMPLATE,
    jsonl,
    lock,
    publish,
    remove_segment,
)
from .journal import Journal, text_key
from .load import load_previous, older_vectors, vector_cache
from .model import Progress

log = logging.getLogger(__name__)

BACKGROUND = Path(str(resources.files("qa.index").joinpath("background.txt")))  # package data


BATCH = 16

# The HNSW graph used from ``Settings.ann_from`` vectors on (see bench/ann.py).
HNSW_M = 32

HNSW_EF_CONSTRUCTION = 80

HNSW_EF_SEARCH = 768  # recall@10 .985 on real vectors, about 1.3 ms at 51,649 (bench/ann.py)


@dataclass(frozen=True)
class BuildReport:
    """What ``build_index`` did: whether anything changed, counts, seconds taken, vectors reused."""

    path: Path
    rebuilt: bool
    documents: int
    chunks: int
    sentences: int
    seconds: float
    embedded: int = 0
    reused: int = 0  # vectors taken from the previous build
    resumed: int = 0  # vectors taken from the journal (an interrupted build, or segments since the last)
    skipped: tuple[Skipped, ...] = ()
    types: dict[str, int] = field(default_factory=dict)  # indexed files per type


# ----------------------------------------------------------------------------------------- build


def build_index(
    settings: Settings,
    embedder: Embedder,
    *,
    force: bool = False,
    progress: bool = False,
    strict: bool = False,
    on_progress: Progress | None = None,
) -> BuildReport:
    """Build (or keep, when inputs are unchanged) the index for ``settings.seeds_dir``.

    Vectors of unchanged chunk and sentence texts are reused from the previous build. Unusable files are
    skipped and listed in the report; with ``strict`` the first one raises :class:`UnreadableFileError`.
    ``on_progress(done, total)`` is called as texts are embedded (``progress`` draws a bar instead).
    """
    began = time.perf_counter()
    index_dir = settings.index_dir
    check_folder(settings.seeds_dir)  # before anything is written
    index_dir.mkdir(parents=True, exist_ok=True)
    with lock(index_dir):
        corpus = read_corpus(settings.seeds_dir)
        skipped = _skipped(corpus, strict)
        inputs = _inputs(settings, embedder, [(f.path, f.sha256) for f in corpus.files])
        previous = load_previous(index_dir, embedder.id)
        if previous is not None and not force and previous.manifest.get("inputs") == inputs:
            remove_segment(index_dir)  # the folder is as the build holds it: no change stands beside it
            counts = previous.counts()
            return BuildReport(
                previous.path,
                False,
                counts["documents"],
                counts["chunks"],
                counts["sentences"],
                time.perf_counter() - began,
                skipped=skipped,
                types=type_counts(corpus),
            )
        documents = corpus.documents
        chunks, sentences, chunk_inputs = chunk_units(documents, settings)
        sentence_inputs = [s.text for s in sentences]
        background = background_texts()
        cache = vector_cache(previous) if previous is not None else older_vectors(index_dir, embedder.id)
        all_inputs = chunk_inputs + sentence_inputs + background
        journal = Journal(index_dir, embedder.id, embedder.dim)
        resumed = _resume(cache, all_inputs, journal)
        todo = sorted({t for t in all_inputs if t not in cache}, key=len)
        embed_missing(embedder, journal, cache, todo, on_progress, bar=progress)
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "embedder": {**embedder.describe(), "id": embedder.id, "dim": embedder.dim},
            "chunking": inputs["chunking"],
            "inputs": inputs,
            "counts": {"documents": len(documents), "chunks": len(chunks), "sentences": len(sentences)},
            "lexical": {},  # what a later segment needs to score its chunks alike (filled below)
            "types": type_counts(corpus),
            "skipped": [{"path": str(s.path), "reason": s.reason} for s in skipped],
        }
        lexical_files = _lexical(chunk_inputs, manifest["lexical"])

        def matrix(texts: list[str]) -> bytes:
            return _faiss_bytes(_stack([cache[t] for t in texts], embedder.dim), settings.ann_from)

        path = publish(
            index_dir,
            manifest,
            {
                "documents.jsonl": jsonl([asdict(d) for d in documents]),
                "chunks.npy": Chunks.of(chunks, documents).matrix(),
                "sentences.npy": Spans.of(sentences, documents).matrix(),
                "background.jsonl": jsonl([{"text": t} for t in background]),
                "chunks.faiss": matrix(chunk_inputs),
                "sentences.faiss": matrix(sentence_inputs),
                "background.faiss": matrix(background),
                **lexical_files,
            },
        )
        journal.clear()
        return BuildReport(
            path,
            True,
            len(documents),
            len(chunks),
            len(sentences),
            time.perf_counter() - began,
            embedded=len(todo),
            reused=len(set(all_inputs)) - len(todo) - resumed,
            resumed=resumed,
            skipped=skipped,
            types=type_counts(corpus),
        )


def _skipped(corpus: Corpus, strict: bool) -> tuple[Skipped, ...]:
    """The files the build leaves out, each logged (an unusable one is a warning); with ``strict`` the
    first unusable one raises :class:`UnreadableFileError`."""
    unusable = [s for s in corpus.skipped if not s.unsupported]
    if strict and unusable:
        raise UnreadableFileError(unusable[0].path, unusable[0].reason)
    skipped = tuple(corpus.skipped)
    for item in skipped:  # files of other types are listed, not warned about (a folder has many)
        log.log(
            logging.INFO if item.unsupported else logging.WARNING, "skipped %s: %s", item.path, item.reason
        )
    return skipped


def embed_missing(
    embedder: Embedder,
    journal: Journal,
    cache: dict[str, Vectors],
    todo: list[str],
    on_progress: Progress | None = None,
    bar: bool = False,
) -> None:
    """Embed ``todo`` into ``cache`` a batch at a time, each batch journaled (and fsynced) before the next,
    so a kill loses one batch; ``on_progress(done, total)`` after each, else a bar or a log line."""
    done = 0
    if on_progress is not None:
        on_progress(0, len(todo))
    with tqdm(total=len(todo), desc="embedding", unit="text", disable=not bar) as shown:
        for batch in _batches(todo, BATCH):
            vectors = embedder.embed_passages(batch)
            journal.append(batch, vectors)  # durable before the next batch: a kill loses one batch
            for text, vector in zip(batch, vectors, strict=True):
                cache[text] = vector
            shown.update(len(batch))
            done += len(batch)
            if on_progress is not None:
                on_progress(done, len(todo))
            if not bar:  # servers and pipes get log lines instead of a bar
                log.info("embedded %d/%d texts", done, len(todo))


def _lexical(chunk_inputs: list[str], stats: dict[str, dict[str, float]]) -> dict[str, bytes]:
    """The files of the BM25 models over the chunks' texts; each model's mean length goes into ``stats``."""
    files: dict[str, bytes] = {}
    for name, tokenise in LEXICAL.items():
        tokens = [tokenise(t) for t in chunk_inputs]
        files |= {f"lexical/{name}/{f}": b for f, b in Bm25.build(tokens).files().items()}
        stats[name] = {"avgdl": sum(map(len, tokens)) / max(len(tokens), 1)}
    return files


def chunk_units(
    documents: Sequence[Document], settings: Settings, first_chunk: int = 0
) -> tuple[list[Chunk], list[Span], list[str]]:
    """The chunks of ``documents`` (numbered from ``first_chunk``), their sentences, and the text the
    model reads for each chunk, in document order."""
    chunks: list[Chunk] = []
    for doc in documents:
        first = first_chunk + len(chunks)
        chunks.extend(chunk_document(doc, settings.chunk_size, settings.chunk_overlap, first))
    sentences = [
        Span(doc.doc_id, s, e, doc.text[s:e]) for doc in documents for s, e in sentence_spans(doc.text)
    ]
    titles = {doc.doc_id: doc.title for doc in documents}
    return chunks, sentences, [PASSAGE_TEMPLATE.format(title=titles[c.doc_id], text=c.text) for c in chunks]


def _resume(cache: dict[str, Vectors], texts: list[str], journal: Journal) -> int:
    """Add to ``cache`` the vectors of ``texts`` journaled since the last build; how many."""
    journaled = journal.read()
    if not journaled:
        return 0
    found = 0
    for text in set(texts) - cache.keys():
        vector = journaled.get(text_key(text))
        if vector is not None:
            cache[text] = vector
            found += 1
    if found:
        log.info("%d vectors embedded since the last build (by a segment or an interrupted build)", found)
    return found


def _inputs(settings: Settings, embedder: Embedder, files: Sequence[tuple[Path, str]]) -> dict[str, Any]:
    """Everything the built index depends on: equal inputs give an equal index."""
    root = settings.seeds_dir
    return {
        "embedder": embedder.id,
        "chunking": {
            "size": settings.chunk_size,
            "overlap_sentences": settings.chunk_overlap,
            "passage_template": PASSAGE_TEMPLATE,
        },
        "corpus": {
            "folder": str(root),
            "files": [{"path": str(p.relative_to(root)), "sha256": h} for p, h in files],
        },
        "background_sha256": hashlib.sha256(BACKGROUND.read_bytes()).hexdigest(),
        "ann": {
            "from": settings.ann_from,
            "m": HNSW_M,
            "ef_construction": HNSW_EF_CONSTRUCTION,
            "ef_search": HNSW_EF_SEARCH,
            "centred": True,
        },
        "format_version": FORMAT_VERSION,
    }


def background_texts() -> list[str]:
    """The off-topic reference texts shipped with vnqa (comment lines skipped)."""
    lines = BACKGROUND.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _stack(rows: list[Vectors], dim: int) -> Vectors:
    return np.ascontiguousarray(np.stack(rows), dtype=np.float32) if rows else np.zeros((0, dim), np.float32)


def _faiss_bytes(matrix: Vectors, ann_from: int) -> bytes:
    """A FAISS inner-product index of ``matrix``: flat, or HNSW over flat from ``ann_from`` rows on.

    The graph is linked over the vectors less their mean, then searches the vectors themselves. e5's
    vectors crowd into a narrow cone, where a graph of inner products links poorly; centred, they spread
    out. A search compares one question's scores, which centring shifts by the same ``q . mean`` for
    every row, so it takes the same path either way, and the stored vectors stay the model's own.
    On xquad-vi-dev's 51,649 vectors recall@10 rises from .90 to .94 at efSearch 256 (bench/ann.py).
    """
    if len(matrix) < ann_from:
        flat = faiss.IndexFlatIP(matrix.shape[1])
        flat.add(matrix)
        return bytes(faiss.serialize_index(flat))
    graph = faiss.IndexHNSWFlat(matrix.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    graph.hnsw.efSearch = HNSW_EF_SEARCH
    graph.add(np.ascontiguousarray(matrix - matrix.mean(axis=0), dtype=np.float32))
    storage = faiss.downcast_index(graph.storage)
    assert isinstance(storage, faiss.IndexFlat)
    faiss.rev_swig_ptr(storage.get_xb(), matrix.size)[:] = matrix.reshape(-1)
    return bytes(faiss.serialize_index(graph))
