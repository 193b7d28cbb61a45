"""The index on disk: a folder that describes itself, built atomically and verified on load.

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
import hashlib
import json
import logging
import os
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faiss
import orjson

from ..embed import Embedder
from ..errors import IndexCorruptError, IndexMismatchError, IndexWriteError
from ..lang.text import syllable_bigrams, syllables, words
from ..store import bm25 as lexical

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
PASSAGE_TEMPLATE = "{title}\n{text}"  # what the model reads for a chunk: the article title gives context
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

VECTOR_FILES = DATA_FILES[:7]  # texts and vectors: all a later build needs to reuse vectors

# the same in builds before format 5, which held the chunks' and sentences' texts as JSONL
OLD_VECTOR_FILES = ("documents.jsonl", "chunks.jsonl", "sentences.jsonl", *VECTOR_FILES[3:])

MAPPED = ("chunks.faiss", "sentences.faiss", "background.faiss")


def jsonl(items: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items).encode()


# --------------------------------------------------------------------------------------- publish


def publish(index_dir: Path, manifest: dict[str, Any], payload: dict[str, bytes]) -> Path:
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
    try:
        return _write_folder(index_dir, name, tmp, link, manifest, payload)
    except OSError as exc:  # a full disk: nothing half written stays, the link is as it was
        shutil.rmtree(tmp, ignore_errors=True)
        raise IndexWriteError(index_dir, exc) from None


def _write_folder(
    index_dir: Path, name: str, tmp: Path, link: str, manifest: dict[str, Any], payload: dict[str, bytes]
) -> Path:
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


def check_embedder(manifest: dict[str, Any], embedder: Embedder, where: str) -> None:
    """Raise :class:`IndexMismatchError` unless ``manifest`` (of the index ``where`` names) was built by
    ``embedder``'s vector space."""
    built_with = manifest["embedder"]["id"]
    if built_with != embedder.id or int(manifest["embedder"]["dim"]) != embedder.dim:
        raise IndexMismatchError(
            f"{where} was built with {built_with}, but the configured model is "
            f"{embedder.id}: run `qa index` to rebuild it, or choose the model it was built with"
        )


def read_manifest(path: Path) -> dict[str, Any]:
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


def verified_file(path: Path, name: str, manifest: dict[str, Any]) -> None:
    """Check ``path / name`` against the manifest's size and SHA-256, reading it in pieces."""
    try:
        with (path / name).open("rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            digest = hashlib.file_digest(stream, "sha256").hexdigest()
    except OSError:
        raise IndexCorruptError(f"the index in {path} lacks {name}: run `qa index --force`") from None
    _check(path, name, manifest, size, digest)


def mapped(file: Path) -> faiss.Index:
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
