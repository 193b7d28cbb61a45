"""English questions moved toward Vietnamese ones in the embedding space, to pick their evidence sentence.

multilingual-e5 places an English question and its Vietnamese translation near each other, but not on
the same spot: every English text is off by much the same direction, the language's own part of the
vector. Added to an English question's vector, the mean difference between Vietnamese and English
texts of the same meaning takes much of that part out, so the question is compared with Vietnamese
sentences the way a Vietnamese question would be. On xquad-vi-dev the cosine alone then picks the
sentence holding the answer among the top passages' for .63 of English questions instead of .46 (see
the README). The search keeps the question's own vector: moved, it favoured all-Vietnamese news
articles over the right one.

The direction is learnt from public data that holds no question we evaluate on: the words and phrases
of the English-Vietnamese dictionary (``en_vi.tsv``, :mod:`qa.bilingual`), each English headword and its
first Vietnamese translation embedded as queries. ``en_vi_shift.json`` holds it for the packaged e5 model
and is made with ``python -m qa.crosslingual > qa/en_vi_shift.json``; other embedders get no shift.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from importlib import resources

import numpy as np

from ..embed import Embedder, Vectors, e5_id
from ..lang.bilingual import dictionary

SHIFT_FILE = "en_vi_shift.json"


@cache
def _shifts() -> dict[str, Vectors]:
    data = json.loads(resources.files("qa").joinpath(SHIFT_FILE).read_text(encoding="utf-8"))
    return {data["embedder"]: np.asarray(data["shift"], np.float32)}


def english_shift(embedder_id: str) -> Vectors | None:
    """The Vietnamese-minus-English direction of the embedder ``embedder_id`` (shape ``(dim,)``), or
    None when none was learnt for it."""
    return _shifts().get(embedder_id)


def shifted(query: Vectors, shift: Vectors | None, scale: float) -> Vectors:
    """``query`` plus ``scale`` times ``shift``, back to unit length (``query`` itself without a shift)."""
    if shift is None or not scale:
        return query
    moved: Vectors = np.asarray(query, np.float32) + np.float32(scale) * shift
    moved /= np.linalg.norm(moved)
    return moved


def learn(embedder: Embedder) -> Vectors:
    """The mean of the dictionary's Vietnamese translations' query vectors minus that of their English
    headwords' (shape ``(dim,)``)."""
    pairs = [(english, senses[0]) for english, senses in dictionary().items()]
    english = np.mean([embedder.embed_query(e) for e, _ in pairs], axis=0)
    vietnamese = np.mean([embedder.embed_query(v) for _, v in pairs], axis=0)
    return np.asarray(vietnamese - english, np.float32)


def main() -> None:
    """Print ``en_vi_shift.json`` for the packaged e5 model."""
    from ..config import Settings
    from ..embed import load_embedder

    embedder = load_embedder(Settings())
    if embedder.id != e5_id():
        raise SystemExit(f"the shift is learnt with the packaged e5 model, not {embedder.id}")
    shift = learn(embedder)
    record = {
        "embedder": embedder.id,
        "source": "qa/en_vi.tsv (English Wiktionary, CC BY-SA 4.0): headwords and first translations",
        "pairs": len(dictionary()),
        "shift": [round(float(x), 6) for x in shift],
    }
    sys.stdout.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
