"""The index: a folder that describes itself, built atomically and verified on load.

Layout of ``index_dir``::

    current -> build-20261123T061500-4f2a/     symlink, swapped atomically with os.replace
    build-20261123T061500-4f2a/
        manifest.json       format, embedder, chunking, corpus checksums, counts, file checksums
        documents.jsonl     one Document per line (NFC text without page furniture)
        chunks.npy          a row (document row, start, end) per chunk; row i is vector i of chunks.faiss
        sentences.npy       the same per sentence; row i is vector i of sentences.faiss
        chunks.faiss        FAISS inner-product index of chunk vectors
        sentences.faiss     FAISS inner-product index of sentence vectors
        background.jsonl    off-topic reference texts (qa/background.txt); row i is vector i of
        background.faiss    ... these: a question nearer to them than to any sentence is off-topic
        lexical/syllables/  BM25 over the chunks' folded syllables (bm25s numpy/JSON files)
        lexical/bigrams/    BM25 over pairs of neighbouring folded syllables
        lexical/words/      BM25 over the chunks' pyvi word segments

A build is written to a temporary folder, fsynced, renamed, and only then published by replacing the
``current`` link, so a crash at any moment leaves the previous index intact. JSON only, never pickle.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import io
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import faiss
import numpy as np
import numpy.typing as npt
import orjson
from tqdm import tqdm

from ..config import Settings
from ..embed.models import Embedder, Vectors
from ..errors import IndexCorruptError, IndexMismatchError, IndexNotBuiltError, UnreadableFileError
from ..ingest.chunking import chunk_document
from ..ingest.corpus import Skipped, check_folder, read_corpus, type_counts
from ..lang.text import sentence_spans, syllable_bigrams, syllables, words
from ..store import Store
from ..store import bm25 as lexical
from ..store.bm25 import Bm25
from ..store.folder import FolderStore
from ..types import Chunk, Document, Span
from .journal import Journal, text_key

if TYPE_CHECKING:
    from .segments import Segment

log = logging.getLogger(__name__)

FORMAT = "vnqa-index"
FORMAT_VERSION = 6
# what each version changed, for the message when an older index is rebuilt
FORMAT_CHANGES = {
    2: "lexical indexes saved at build time",
    3: "a syllable-bigram BM25",
    4: "document ids are paths relative to the articles folder, and web pages, PDF and Word are read",
    5: "chunks and sentences kept as offsets into their documents (a faster start, less memory)",
    6: 'a name\'s initial no longer ends a sentence ("William E. Simon")',
}
CURRENT = "current"
SEGMENT = "segment"  # -> segment-<stamp>/: the articles changed since the current build (qa/segments.py)
MANIFEST = "manifest.json"
# tokeniser of each saved BM25 model
LEXICAL = {"syllables": syllables, "bigrams": syllable_bigrams, "words": words}
DATA_FILES = (
    "documents.jsonl",
    "chunks.npy",
    "sentences.npy",
    "background.jsonl",
    "chunks.faiss",
    "sentences.faiss",
    "background.faiss",
    *(f"lexical/{name}/{file}" for name in LEXICAL for file in lexical.FILES),
)
_VECTOR_FILES = DATA_FILES[:7]  # texts and vectors: all a later build needs to reuse vectors
# the same in builds before format 5, which held the chunks' and sentences' texts as JSONL
_OLD_VECTOR_FILES = ("documents.jsonl", "chunks.jsonl", "sentences.jsonl", *_VECTOR_FILES[3:])
MAPPED = ("chunks.faiss", "sentences.faiss", "background.faiss")
BACKGROUND = Path(__file__).with_name("background.txt")
PASSAGE_TEMPLATE = "{title}\n{text}"  # what the model reads for a chunk: the article title gives context
BATCH = 16
# The HNSW graph used from ``Settings.ann_from`` vectors on (see bench/ann.py).
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 768  # recall@10 .985 on real vectors, about 1.3 ms at 51,649 (bench/ann.py)

Progress = Callable[[int, int], None]


Rows = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)  # compared by identity: compare ``list(a) == list(b)``
class Stretches:
    """Stretches of documents kept as arrays, not objects: row ``i`` is
    ``documents[owner[i]].text[starts[i]:ends[i]]`` (800,000 sentences as objects with their texts would
    take about 400 MB and seconds to read)."""

    documents: tuple[Document, ...]
    owner: Rows
    starts: Rows
    ends: Rows

    def __len__(self) -> int:
        return len(self.owner)

    def doc_id(self, row: int) -> str:
        return self.documents[int(self.owner[row])].doc_id

    def text(self, row: int) -> str:
        return self.documents[int(self.owner[row])].text[int(self.starts[row]) : int(self.ends[row])]

    def rows_of(self, doc_ids: Collection[str]) -> Rows:
        """The rows of the documents ``doc_ids`` (each document's rows are consecutive)."""
        owners = np.array([i for d in doc_ids for i in self._owners.get(d, ())], np.int64)
        if not len(owners):
            return np.zeros(0, np.int64)
        low = np.searchsorted(self.owner, owners, "left")
        high = np.searchsorted(self.owner, owners, "right")
        return np.concatenate([np.arange(a, b, dtype=np.int64) for a, b in zip(low, high, strict=True)])

    @functools.cached_property
    def _owners(self) -> dict[str, list[int]]:
        """Document id -> its rows in ``documents`` (two, when a segment holds a changed article)."""
        owners: dict[str, list[int]] = {}
        for i, doc in enumerate(self.documents):
            owners.setdefault(doc.doc_id, []).append(i)
        return owners

    def matrix(self) -> bytes:
        """The arrays as one ``.npy`` file: a row ``(owner, start, end)`` per stretch."""
        buffer = io.BytesIO()
        np.save(buffer, np.stack([self.owner, self.starts, self.ends], axis=1), allow_pickle=False)
        return buffer.getvalue()

    @classmethod
    def of(cls, stretches: Sequence[Chunk | Span], documents: Sequence[Document]) -> Self:
        """The table of ``stretches``, each a stretch of one of ``documents``."""
        row_of = {d.doc_id: i for i, d in enumerate(documents)}
        return cls.table([(row_of[s.doc_id], s.start, s.end) for s in stretches], documents)

    @classmethod
    def table(cls, rows: Sequence[tuple[int, int, int]], documents: Sequence[Document]) -> Self:
        """The table of the stretches ``(document row, start, end)`` of ``documents``."""
        table = np.array(rows, np.int64).reshape(-1, 3)
        return cls(tuple(documents), table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy())

    @classmethod
    def read(cls, data: bytes, documents: Sequence[Document]) -> Self:
        """The table a :meth:`matrix` file holds, over ``documents``."""
        table = np.load(io.BytesIO(data), allow_pickle=False)
        if table.ndim != 2 or table.shape[1] != 3 or (len(table) and table[:, 0].max() >= len(documents)):
            raise ValueError("a table of stretches that does not fit its documents")
        owner, starts, ends = (np.ascontiguousarray(table[:, i], np.int64) for i in range(3))
        return cls(tuple(documents), owner, starts, ends)

    def joined(self, other: Self) -> Self:
        """These rows, then ``other``'s."""
        return type(self)(
            self.documents + other.documents,
            np.concatenate([self.owner, other.owner + len(self.documents)]),
            np.concatenate([self.starts, other.starts]),
            np.concatenate([self.ends, other.ends]),
        )

    def __iter__(self) -> Iterator[Any]:
        return (self[row] for row in range(len(self)))

    def __getitem__(self, row: int) -> Any:
        raise NotImplementedError


class Chunks(Stretches):
    """The index's chunks: row ``i`` is chunk ``i`` (see :class:`Stretches`)."""

    def __getitem__(self, row: int) -> Chunk:
        doc = self.documents[self.owner[row]]
        start, end = int(self.starts[row]), int(self.ends[row])
        return Chunk(row, doc.doc_id, start, end, doc.text[start:end])

    def __iter__(self) -> Iterator[Chunk]:
        return super().__iter__()


class Spans(Stretches):
    """The index's sentences: row ``i`` is sentence ``i`` (see :class:`Stretches`)."""

    def __getitem__(self, row: int) -> Span:
        doc = self.documents[self.owner[row]]
        start, end = int(self.starts[row]), int(self.ends[row])
        return Span(doc.doc_id, start, end, doc.text[start:end])

    def __iter__(self) -> Iterator[Span]:
        return super().__iter__()


@dataclass(frozen=True)
class SentenceRanges:
    """The sentence rows of every chunk, as arrays: to gather the sentences of some chunks, take each
    one's best sentence in one pass, and find the chunks holding a sentence."""

    starts: Rows  # per chunk
    stops: Rows
    first_chunk: Rows  # per sentence: the first and last chunk holding it (-1: none)
    last_chunk: Rows

    @classmethod
    def of(cls, chunks: Stretches, sentences: Stretches) -> SentenceRanges:
        """Sentences lie inside a chunk when they overlap it in its document; each document's sentences
        are consecutive rows in reading order, so each chunk's are one run, found by binary search."""
        owner_keys = sentences.owner << 32
        low = np.searchsorted(owner_keys + sentences.ends, (chunks.owner << 32) + chunks.starts, "right")
        high = np.searchsorted(owner_keys + sentences.starts, (chunks.owner << 32) + chunks.ends, "left")
        starts = np.where(high > low, low, 0).astype(np.int64)
        stops = np.where(high > low, high, 0).astype(np.int64)
        first = np.full(len(sentences), -1, np.int64)
        last = np.full(len(sentences), -1, np.int64)
        lengths = stops - starts
        rows = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        rows += np.arange(int(lengths.sum()), dtype=np.int64)
        holders = np.repeat(np.arange(len(chunks), dtype=np.int64), lengths)
        np.maximum.at(last, rows, holders)
        first[rows] = len(chunks)
        np.minimum.at(first, rows, holders)
        return cls(starts, stops, first, last)

    def __getitem__(self, chunk: int) -> range:
        """The sentence rows of ``chunk``."""
        return range(int(self.starts[chunk]), int(self.stops[chunk]))

    def __len__(self) -> int:
        return len(self.starts)

    def rows_of(self, chunks: Rows) -> tuple[Rows, Rows]:
        """The sentence rows of ``chunks``, chunk after chunk, and where each chunk's run starts."""
        lengths = self.stops[chunks] - self.starts[chunks]
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        total = int(lengths.sum())
        rows = np.arange(total, dtype=np.int64) - np.repeat(starts - self.starts[chunks], lengths)
        return rows, starts

    def best_local(self, scores: npt.NDArray[np.float32], starts: Rows, n: int) -> npt.NDArray[np.float32]:
        """Per chunk of :meth:`rows_of`, the highest of ``scores`` over its run (0 for an empty run)."""
        out = np.zeros(n, np.float32)
        if not len(scores):
            return out
        stops = np.append(starts[1:], len(scores))
        filled = stops > starts
        out[filled] = np.maximum.reduceat(scores, starts[filled])
        return out

    def chunks_of(self, sentences: Rows) -> Rows:
        """The chunks holding any of ``sentences``."""
        held = np.concatenate([self.first_chunk[sentences], self.last_chunk[sentences]])
        return held[held >= 0]


@dataclass(frozen=True)
class Index:
    """A loaded index: documents by id, chunks and sentences, and the store that searches them."""

    path: Path
    manifest: dict[str, Any]
    documents: dict[str, Document]
    chunks: Chunks
    sentences: Spans
    store: Store
    background: list[str]
    background_vectors: faiss.Index
    chunk_sentences: SentenceRanges
    # with a segment of changes laid over a build (qa/segments.py): that build, the segment, and the
    # build's chunk rows the segment hides (articles deleted or changed since)
    base: Index | None = None
    segment: Segment | None = None
    hidden: Rows = field(default_factory=lambda: np.zeros(0, np.int64))  # ascending
    # what readers derive from this index once and keep with it (see qa.pages.loaded)
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def version(self) -> str:
        """Names what is served: the build, and the segment of changes over it if there is one."""
        return self.path.name + (f"+{self.segment.name}" if self.segment is not None else "")

    @property
    def embedder_id(self) -> str:
        return str(self.manifest["embedder"]["id"])

    @property
    def built_at(self) -> str:
        return str(self.manifest["built_at"])

    def counts(self) -> dict[str, int]:
        counts = self.manifest["counts"]
        return {k: int(counts[k]) for k in ("documents", "chunks", "sentences")}


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
        unusable = [s for s in corpus.skipped if not s.unsupported]
        if strict and unusable:
            raise UnreadableFileError(unusable[0].path, unusable[0].reason)
        skipped = tuple(corpus.skipped)
        for item in skipped:  # files of other types are listed, not warned about (a folder has many)
            log.log(
                logging.INFO if item.unsupported else logging.WARNING,
                "skipped %s: %s",
                item.path,
                item.reason,
            )
        inputs = _inputs(settings, embedder, [(f.path, f.sha256) for f in corpus.files])
        previous = _load_previous(index_dir, embedder.id)
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
        chunks, sentences, chunk_inputs = units(documents, settings)
        sentence_inputs = [s.text for s in sentences]
        background = background_texts()

        cache = _vector_cache(previous) if previous is not None else _older_vectors(index_dir, embedder.id)
        all_inputs = chunk_inputs + sentence_inputs + background
        journal = Journal(index_dir, embedder.id, embedder.dim)
        resumed = _resume(cache, all_inputs, journal)
        todo = sorted({t for t in all_inputs if t not in cache}, key=len)
        done = 0
        if on_progress is not None:
            on_progress(0, len(todo))
        with tqdm(total=len(todo), desc="embedding", unit="text", disable=not progress) as bar:
            for batch in _batches(todo, BATCH):
                vectors = embedder.embed_passages(batch)
                journal.append(batch, vectors)  # durable before the next batch: a kill loses one batch
                for text, vector in zip(batch, vectors, strict=True):
                    cache[text] = vector
                bar.update(len(batch))
                done += len(batch)
                if on_progress is not None:
                    on_progress(done, len(todo))
                if not progress:  # servers and pipes get log lines instead of a bar
                    log.info("embedded %d/%d texts", done, len(todo))
        lexical_files: dict[str, bytes] = {}
        lexical_stats: dict[str, dict[str, float]] = {}
        for name, tokenise in LEXICAL.items():
            tokens = [tokenise(t) for t in chunk_inputs]
            lexical_files |= {f"lexical/{name}/{f}": b for f, b in Bm25.build(tokens).files().items()}
            lexical_stats[name] = {"avgdl": sum(map(len, tokens)) / max(len(tokens), 1)}
        chunk_matrix = _stack([cache[t] for t in chunk_inputs], embedder.dim)
        sentence_matrix = _stack([cache[t] for t in sentence_inputs], embedder.dim)
        background_matrix = _stack([cache[t] for t in background], embedder.dim)

        manifest: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "embedder": {**embedder.describe(), "id": embedder.id, "dim": embedder.dim},
            "chunking": inputs["chunking"],
            "inputs": inputs,
            "counts": {"documents": len(documents), "chunks": len(chunks), "sentences": len(sentences)},
            "lexical": lexical_stats,  # what a later segment needs to score its chunks alike
            "types": type_counts(corpus),
            "skipped": [{"path": str(s.path), "reason": s.reason} for s in skipped],
        }
        path = _publish(
            index_dir,
            manifest,
            {
                "documents.jsonl": jsonl([asdict(d) for d in documents]),
                "chunks.npy": Chunks.of(chunks, documents).matrix(),
                "sentences.npy": Spans.of(sentences, documents).matrix(),
                "background.jsonl": jsonl([{"text": t} for t in background]),
                "chunks.faiss": _faiss_bytes(chunk_matrix, settings.ann_from),
                "sentences.faiss": _faiss_bytes(sentence_matrix, settings.ann_from),
                "background.faiss": _faiss_bytes(background_matrix, settings.ann_from),
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


def units(
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


def _vector_cache(previous: Index) -> dict[str, Vectors]:
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


def _older_vectors(index_dir: Path, embedder_id: str) -> dict[str, Vectors]:
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
        names = _OLD_VECTOR_FILES if jsonl_texts else _VECTOR_FILES
        read = {name: verified(path, name, manifest) for name in names}
        documents = [Document(**row) for row in records(read["documents.jsonl"])]
        titles = {d.doc_id: d.title for d in documents}
        if jsonl_texts:
            chunks = [(str(r["doc_id"]), str(r["text"])) for r in records(read["chunks.jsonl"])]
            sentences = [str(r["text"]) for r in records(read["sentences.jsonl"])]
        else:
            chunks = [(c.doc_id, c.text) for c in Chunks.read(read["chunks.npy"], documents)]
            sentences = [s.text for s in Spans.read(read["sentences.npy"], documents)]
        template = manifest["chunking"].get("passage_template", PASSAGE_TEMPLATE)
        return _text_vectors(
            {
                "chunks": [template.format(title=titles[doc], text=text) for doc, text in chunks],
                "sentences": sentences,
                "background": [str(r["text"]) for r in records(read["background.jsonl"])],
            },
            {
                kind: faiss.deserialize_index(np.frombuffer(read[f"{kind}.faiss"], dtype=np.uint8))
                for kind in ("chunks", "sentences", "background")
            },
        )
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, IndexCorruptError):
        return {}  # nothing usable: embed everything


def _text_vectors(texts: dict[str, list[str]], vectors: dict[str, faiss.Index]) -> dict[str, Vectors]:
    """Text -> stored vector, for each kind's texts in row order and its FAISS index."""
    cache: dict[str, Vectors] = {}
    for kind, rows in texts.items():
        stored = vectors[kind]
        for text, vector in zip(rows, stored.reconstruct_n(0, stored.ntotal), strict=True):
            cache[text] = vector
    return cache


def _load_previous(index_dir: Path, embedder_id: str) -> Index | None:
    try:
        previous = load_index(index_dir)
    except (IndexNotBuiltError, IndexCorruptError, IndexMismatchError):  # rebuilt from scratch
        return None
    return previous if previous.embedder_id == embedder_id else None


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


def jsonl(items: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items).encode()


# --------------------------------------------------------------------------------------- publish


def _publish(index_dir: Path, manifest: dict[str, Any], payload: dict[str, bytes]) -> Path:
    """Write a complete build next to the current one, then point ``current`` at it atomically."""
    name = publish_folder(index_dir, "build", CURRENT, manifest, payload)
    _remove_stale(index_dir, keep=name.name)
    return name


def publish_folder(
    index_dir: Path, kind: str, link: str, manifest: dict[str, Any], payload: dict[str, bytes]
) -> Path:
    """Write ``payload`` (relative file name -> bytes) and ``manifest`` (with the files' sizes and
    SHA-256 added) into a new folder ``<kind>-<stamp>-<hex>`` of ``index_dir``, fsynced, then point the
    symlink ``link`` at it atomically; the new folder's path. A crash at any moment leaves the link as it
    was."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    name = f"{kind}-{stamp}-{secrets.token_hex(3)}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir()
    manifest = {
        **manifest,
        "files": {n: {"sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b)} for n, b in payload.items()},
    }
    for filename, data in {
        **payload,
        MANIFEST: json.dumps(manifest, ensure_ascii=False, indent=2).encode(),
    }.items():
        (tmp / filename).parent.mkdir(parents=True, exist_ok=True)
        write_synced(tmp / filename, data)
    for folder in sorted({(tmp / n).parent for n in payload} | {tmp}, key=lambda p: -len(p.parts)):
        fsync_dir(folder)
    final = index_dir / name
    os.rename(tmp, final)
    temporary_link = index_dir / f".tmp-link-{name}"
    os.symlink(name, temporary_link)
    os.replace(temporary_link, index_dir / link)
    fsync_dir(index_dir)
    return final


def write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale(index_dir: Path, keep: str) -> None:
    """Delete older builds, the segment of changes made beside them, and leftovers of interrupted ones
    (readers hold loaded copies in memory)."""
    remove_segment(index_dir)
    for entry in index_dir.iterdir():
        if entry.name in (keep, CURRENT, ".lock") or entry.name.startswith("."):
            if entry.name.startswith(".tmp-"):
                _remove(entry)
            continue
        if entry.name.startswith("build-"):
            _remove(entry)


def remove_segment(index_dir: Path, keep: str | None = None) -> None:
    """Unpublish the segment of changes (see :mod:`qa.segments`) unless it is ``keep``, and delete every
    segment folder but ``keep``."""
    link = index_dir / SEGMENT
    if link.is_symlink() and os.readlink(link) != keep:
        link.unlink()
        fsync_dir(index_dir)
    for entry in index_dir.glob(f"{SEGMENT}-*"):
        if entry.name != keep:
            _remove(entry)


def _remove(entry: Path) -> None:
    if entry.is_symlink() or entry.is_file():
        entry.unlink(missing_ok=True)
    else:
        shutil.rmtree(entry, ignore_errors=True)


@contextlib.contextmanager
def lock(index_dir: Path) -> Iterator[None]:
    """One builder at a time per index folder (released by the OS if the process dies)."""
    with open(index_dir / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ------------------------------------------------------------------------------------------ load


def index_format(index_dir: Path) -> int | None:
    """The format version of the published build (None when there is none or it is unreadable)."""
    try:
        manifest = json.loads((index_dir / CURRENT / MANIFEST).read_text(encoding="utf-8"))
        return int(manifest["format_version"]) if manifest.get("format") == FORMAT else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def index_exists(index_dir: Path) -> bool:
    """True when ``index_dir`` has a published build (which may still fail verification)."""
    return (index_dir / CURRENT / MANIFEST).is_file()


def load_index(index_dir: Path, embedder: Embedder | None = None) -> Index:
    """Load and verify the published build; with ``embedder``, refuse an index built by another model.

    Raises :class:`IndexNotBuiltError`, :class:`IndexCorruptError` or :class:`IndexMismatchError`.
    """
    if not index_exists(index_dir):
        raise IndexNotBuiltError(f"no index in {index_dir}: run `qa index` first")
    path = (index_dir / CURRENT).resolve()
    manifest = _read_manifest(path)
    if embedder is not None:
        check_embedder(manifest, embedder, f"the index in {index_dir}")
    # vector files are checked as they stream through the hash, then memory-mapped, never copied
    payload = {name: verified(path, name, manifest) for name in DATA_FILES if name not in MAPPED}
    for name in MAPPED:
        _verified_file(path, name, manifest)
    try:
        documents = [Document(**row) for row in records(payload["documents.jsonl"])]
        chunks = Chunks.read(payload["chunks.npy"], documents)
        sentences = Spans.read(payload["sentences.npy"], documents)
        background = [str(row["text"]) for row in records(payload["background.jsonl"])]
        chunk_vectors = _mapped(path / "chunks.faiss")
        sentence_vectors = _mapped(path / "sentences.faiss")
        background_vectors = _mapped(path / "background.faiss")
        lexical_models = {name: Bm25.load(path / "lexical" / name) for name in LEXICAL}
    except (TypeError, ValueError, RuntimeError, KeyError) as exc:
        raise IndexCorruptError(
            f"the index in {path} cannot be read ({exc}): run `qa index --force`"
        ) from None
    counts = manifest["counts"]
    if (
        len(documents) != counts["documents"]
        or len(chunks) != counts["chunks"]
        or chunk_vectors.ntotal != counts["chunks"]
        or len(sentences) != counts["sentences"]
        or sentence_vectors.ntotal != counts["sentences"]
        or background_vectors.ntotal != len(background)
        or any(model.size != len(chunks) for model in lexical_models.values())
        or len({d.doc_id for d in documents}) != len(documents)
    ):
        raise IndexCorruptError(f"the index in {path} has inconsistent counts: run `qa index --force`")
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


def check_embedder(manifest: dict[str, Any], embedder: Embedder, where: str) -> None:
    """Raise :class:`IndexMismatchError` unless ``manifest`` (of the index ``where`` names) was built by
    ``embedder``'s vector space."""
    built_with = manifest["embedder"]["id"]
    if built_with != embedder.id or int(manifest["embedder"]["dim"]) != embedder.dim:
        raise IndexMismatchError(
            f"{where} was built with {built_with}, but the configured model is "
            f"{embedder.id}: run `qa index` to rebuild it, or choose the model it was built with"
        )


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"unreadable manifest in {path} ({exc}): run `qa index --force`") from None
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index in {path} has format {manifest.get('format')} v{manifest.get('format_version')}, "
            f"this vnqa reads {FORMAT} v{FORMAT_VERSION}: run `qa index --force`"
        )
    return manifest


def _verified_file(path: Path, name: str, manifest: dict[str, Any]) -> None:
    """Check ``path / name`` against the manifest's size and SHA-256, reading it in pieces."""
    try:
        with (path / name).open("rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            digest = hashlib.file_digest(stream, "sha256").hexdigest()
    except OSError:
        raise IndexCorruptError(f"the index in {path} lacks {name}: run `qa index --force`") from None
    _check(path, name, manifest, size, digest)


def _mapped(file: Path) -> faiss.Index:
    """A FAISS index read-only and memory-mapped: the OS pages it in, and shares and drops it as needed."""
    return faiss.read_index(str(file), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)


def verified(path: Path, name: str, manifest: dict[str, Any]) -> bytes:
    """The bytes of ``path / name``, checked against the manifest's size and SHA-256."""
    try:
        data = (path / name).read_bytes()
    except OSError:
        raise IndexCorruptError(f"the index in {path} lacks {name}: run `qa index --force`") from None
    _check(path, name, manifest, len(data), hashlib.sha256(data).hexdigest())
    return data


def _check(path: Path, name: str, manifest: dict[str, Any], size: int, digest: str) -> None:
    expected = manifest.get("files", {}).get(name)
    if expected is None or size != expected["bytes"] or digest != expected["sha256"]:
        raise IndexCorruptError(f"{path / name} fails its checksum: run `qa index --force`")


def records(data: bytes) -> Iterator[dict[str, Any]]:
    """The records of a JSONL file's bytes, parsed with orjson (they are about half of opening an index)."""
    for line in data.splitlines():
        if line:
            row: dict[str, Any] = orjson.loads(line)
            yield row
