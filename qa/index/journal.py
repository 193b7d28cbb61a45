"""Vectors embedded by a build that has not published yet, kept on disk batch by batch.

A long build spends nearly all its time embedding. Each batch's vectors are appended to a journal file in
the index folder and fsynced before the next batch starts, so a build killed at any moment (kill -9, a
power cut) loses at most the batch it was embedding: the next build reads the journal and embeds only what
is missing. Once a build is published its vectors live in the index and the journal is emptied.

The file holds fixed-size records: the SHA-256 of the text, its vector as little-endian float32, then the
CRC-32 of the two. A record torn by a crash is shorter than the others, and one whose bits changed on disk
fails its CRC: either is dropped when the journal is read (and its text embedded again).
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..embed import Vectors
from ..errors import IndexWriteError

FOLDER = ".journal"
KEY_BYTES = 32
CRC_BYTES = 4


def _record(body: bytes) -> bytes:
    return body + zlib.crc32(body).to_bytes(CRC_BYTES, "little")


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


class Journal:
    """The journal of one embedder's vectors in ``index_dir`` (one file per vector space)."""

    def __init__(self, index_dir: Path, embedder_id: str, dim: int) -> None:
        stem = hashlib.sha256(embedder_id.encode()).hexdigest()[:16]
        self.path = index_dir / FOLDER / f"{stem}-{dim}.v2.vectors"
        self.dim = dim
        self._record = KEY_BYTES + 4 * dim + CRC_BYTES

    def read(self) -> dict[bytes, Vectors]:
        """Key -> vector of every whole record (none when there is no journal)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        whole = len(data) - len(data) % self._record
        records = np.frombuffer(data[:whole], dtype=np.uint8).reshape(-1, self._record)
        sound = [
            i
            for i, record in enumerate(records)
            if zlib.crc32(record[:-CRC_BYTES].tobytes()) == int.from_bytes(record[-CRC_BYTES:], "little")
        ]
        records = records[sound]
        vectors = records[:, KEY_BYTES:-CRC_BYTES].copy().view("<f4").astype(np.float32)
        return {bytes(key): vector for key, vector in zip(records[:, :KEY_BYTES], vectors, strict=True)}

    def append(self, texts: Sequence[str], vectors: Vectors) -> None:
        """Add a batch and make it durable before returning; :class:`IndexWriteError` when the disk is full
        (a torn record it leaves is cut off by the next append)."""
        rows = np.ascontiguousarray(vectors, dtype="<f4").reshape(len(texts), self.dim)
        payload = b"".join(_record(text_key(t) + row.tobytes()) for t, row in zip(texts, rows, strict=True))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "ab") as fh:
                if fh.tell() % self._record:  # a torn record from a crash: cut it off before appending
                    fh.truncate(fh.tell() - fh.tell() % self._record)
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise IndexWriteError(self.path.parent.parent, exc) from None

    def clear(self) -> None:
        """Forget every record (their vectors are in a published index now)."""
        self.path.unlink(missing_ok=True)
