"""The assembled pipeline: settings -> embedder -> index -> retriever -> answers.

``Engine.open`` is what the CLI and the API call; it builds the index first when there is none.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Generator as Generator_
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .answer.evidence import answer_question
from .answer.generate import Generator, OpenAIGenerator, Reply, generate, generate_stream
from .answer.reader import load_reader
from .answer.reading import Reads
from .config import Retriever, Settings
from .embed import Embedder, load_embedder
from .errors import IndexMismatchError, IndexNotBuiltError, QuestionError, StoreError
from .index import segments
from .index.build import build_index
from .index.files import CURRENT, FORMAT_CHANGES, FORMAT_VERSION, check_embedder, index_exists, index_format
from .index.load import load_index as load_build
from .index.model import Index
from .index.segments import load as load_index
from .search.conversation import Turn, bounded, standalone
from .search.hybrid import HybridRetriever, Ranking, lexical_weights
from .store.registry import backend
from .types import Answer, Hit

log = logging.getLogger(__name__)

# Added to the fused score of the previous turn's article when a follow-up is ambiguous on its own
# (fused scores lie in [0, 1]). On seeds/dialogues.jsonl any value from 0 to 0.4 gives the same turn
# accuracy: searching with the previous question already finds the article; this is the tie-breaker.
PREFER_BONUS = 0.1


@dataclass(frozen=True)
class Engine:
    """A loaded model, index and retriever, ready to answer questions (thread-safe for reads)."""

    settings: Settings
    embedder: Embedder
    index: Index
    retriever: HybridRetriever
    generator: Generator | None = None
    reader: Reads | None = None

    @classmethod
    def open(
        cls,
        settings: Settings,
        embedder: Embedder | None = None,
        *,
        build_missing: bool = True,
        progress: bool = False,
        generator: Generator | None = None,
    ) -> Engine:
        """Load the index for ``settings`` (building it first if absent and ``build_missing``); the LLM
        is ``generator``, else the one ``settings.llm_url`` names, else none."""
        embedder = embedder or load_embedder(settings)
        built = index_format(settings.index_dir)  # None: no index (or no readable manifest)
        # a machine without a local index serving what the database holds: nothing to build here
        served = _served_from_store(settings, embedder) if built is None else None
        if served is None and build_missing and (built is None or built < FORMAT_VERSION):
            _build(settings, embedder, built, progress)
        if (
            served is None
            and not backend(settings.store).local
            and index_format(settings.index_dir) == FORMAT_VERSION
        ):
            served = _in_store(settings, embedder)  # else loading the folder says what is wrong
        index = served or load_index(settings.index_dir, embedder)
        built = index.manifest["chunking"]
        if (built["size"], built["overlap_sentences"]) != (settings.chunk_size, settings.chunk_overlap):
            raise IndexMismatchError(
                f"the index in {settings.index_dir} was built with chunks of {built['size']} characters "
                f"and {built['overlap_sentences']} sentence(s) of overlap, but the settings ask for "
                f"{settings.chunk_size} and {settings.chunk_overlap}: run `qa index` to rebuild it"
            )
        generator = generator or _generator_of(settings)
        reader = load_reader(settings.reader_weights, settings.model_cache) if settings.reader else None
        return cls(settings, embedder, index, _retriever(settings, index, embedder), generator, reader)

    def serving(self, index: Index) -> Engine:
        """This engine with ``index`` in place of its own (same model, settings and LLM)."""
        return replace(self, index=index, retriever=_retriever(self.settings, index, self.embedder))

    def ask(
        self,
        question: str,
        top_k: int | None = None,
        ranking: Ranking | None = None,
        history: Sequence[Turn] = (),
    ) -> Answer:
        """Answer one question, read in its conversation ``history`` (earlier turns, oldest first);
        raises :class:`QuestionError` for an unusable question.

        ``ranking`` may carry ``self.retriever.rank(question)`` already computed for the same text.
        """
        checked = check_question(question, self.settings.max_question_chars)
        k = top_k if top_k is not None else self.settings.top_k
        if not 1 <= k <= 20:
            raise QuestionError(f"top_k must be between 1 and 20, not {k}")
        alone = standalone(checked, bounded(history, self.settings.max_question_chars))
        if not alone.follow_up:
            reuse = ranking if checked == question else None
            return answer_question(
                self.retriever, checked, k, reuse, self.settings.min_confidence, reader=self.reader
            )
        ranking = self.retriever.rank(alone.question, also=alone.prefer)  # the earlier articles compete
        ranked = self.retriever.prefer(ranking, alone.prefer, PREFER_BONUS)
        return answer_question(
            self.retriever,
            alone.question,
            k,
            ranked,
            self.settings.min_confidence,
            asked=checked,
            reader=self.reader,
        )

    def reply(self, question: str, top_k: int | None = None, history: Sequence[Turn] = ()) -> Reply:
        """The answer as the user reads it: worded by the LLM from the passages when one is configured
        and its citations hold, else the extractive answer (with a note when the LLM failed)."""
        return generate(self.generator, self.ask(question, top_k, history=history))

    def reply_stream(
        self, question: str, top_k: int | None = None, history: Sequence[Turn] = ()
    ) -> tuple[Answer, Generator_[str, None, Reply]]:
        """The extractive answer at once (its sources can be shown), and a generator that yields the LLM's
        text as it arrives and returns the final :class:`Reply` (as :meth:`reply` would give)."""
        answer = self.ask(question, top_k, history=history)
        return answer, generate_stream(self.generator, answer)

    def search(self, question: str, k: int, method: Retriever = "hybrid") -> list[Hit]:
        """The ``k`` best chunks by one retriever, best first (for evaluation)."""
        return self.retriever.search(question, k, method)

    def info(self) -> dict[str, Any]:
        """Embedder, index location, counts and build time: for ``qa info`` and ``/api/health``."""
        return {
            "embedder": {**self.embedder.describe(), "id": self.embedder.id},
            "index": {
                "store": self.index.store.name,
                "path": str(self.index.path),
                "version": self.index.version,
                "built_at": self.index.built_at,
                "counts": self.index.counts(),
                "chunking": self.index.manifest["chunking"],
            },
            "seeds_dir": str(self.settings.seeds_dir),
        }


def _build(settings: Settings, embedder: Embedder, built: int | None, progress: bool) -> None:
    """Build the index that is missing, or of an older format (``built``), saying which."""
    if index_exists(settings.index_dir):  # vectors are reused; only the other files are redone
        since = range((built or 1) + 1, FORMAT_VERSION + 1)
        changes = "; ".join(FORMAT_CHANGES[v] for v in since)
        log.warning(
            "the index in %s has format v%s, older than v%d (since then: %s): rebuilding it",
            settings.index_dir,
            built,
            FORMAT_VERSION,
            changes,
        )
    else:
        log.info("no index in %s: building it from %s", settings.index_dir, settings.seeds_dir)
    report = build_index(settings, embedder, progress=progress)
    log.info("indexed %d chunks in %.1f s", report.chunks, report.seconds)


def published(settings: Settings) -> str | None:
    """The version (:attr:`Index.version`) :meth:`Engine.open` would serve now without building: the
    index folder's, else, on a machine without one, the configured store's current build (None when
    there is none, or the server cannot be reached)."""
    local = segments.published(settings.index_dir)
    store = backend(settings.store)
    if local is not None or store.local or not settings.store_url:
        return local
    try:
        return store.current(settings)
    except StoreError as exc:
        log.warning("cannot ask %s for its current build: %s", store.title, exc)
        return None


def _retriever(settings: Settings, index: Index, embedder: Embedder) -> HybridRetriever:
    return HybridRetriever(
        index,
        embedder,
        lexical_weights=lexical_weights(settings),
        sentence_weight=settings.sentence_weight,
        english_shift=settings.english_shift,
    )


def _served_from_store(settings: Settings, embedder: Embedder) -> Index | None:
    """With a store at a server URL but no local index: the store's current build (None when it has
    none, or the store is the index folder)."""
    if backend(settings.store).local or not settings.store_url:
        return None
    try:
        return _loaded_from_store(settings, embedder)
    except IndexNotBuiltError:
        return None


def _in_store(settings: Settings, embedder: Embedder) -> Index:
    """The local build, published to the configured store unless it is there already, loaded from the
    store, with the folder's segment of changes laid over it. The build's own files are read only to
    be published (at 35,440 articles loading them took 6 s of the start)."""
    store = backend(settings.store)
    build = (settings.index_dir / CURRENT).resolve()
    if store.current(settings) != build.name:
        local = load_build(settings.index_dir, embedder)
        log.info("publishing %s to %s", build.name, store.title)
        store.publish(settings, local)
    index = _loaded_from_store(settings, embedder, build)
    segment = segments.read(settings.index_dir, index)  # the changes since, kept in the folder
    return index if segment is None else segments.laid_over(index, segment)


def _loaded_from_store(settings: Settings, embedder: Embedder, path: Path | None = None) -> Index:
    """The store's current build, refused if another model made it."""
    store = backend(settings.store)
    index = Index.of(store.load(settings, path))
    check_embedder(index.manifest, embedder, f"the index in the {store.title} store")
    return index


def release_store(settings: Settings) -> None:
    """Let go of what serving from the configured store started in this process (an embedded server)."""
    backend(settings.store).release(settings)


def _generator_of(settings: Settings) -> Generator | None:
    if not settings.llm_url:
        return None
    return OpenAIGenerator(settings.llm_url, settings.llm_model, settings.llm_api_key, settings.llm_timeout)


_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")


def check_question(question: str, max_chars: int) -> str:
    """The question stripped of surrounding whitespace; raises :class:`QuestionError` if unusable."""
    if "\x00" in question:
        raise QuestionError("the question contains a NUL character")
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:
        raise QuestionError("the question is not valid Unicode text (lone surrogate)") from None
    question = _INVISIBLE.sub("", question).strip()  # zero-width characters split words
    if not question:
        raise QuestionError("the question is empty")
    if len(question) > max_chars:
        raise QuestionError(f"the question is {len(question)} characters long; the limit is {max_chars}")
    return question
