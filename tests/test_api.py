from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.config import Settings
from qa.embed import FakeEmbedder
from qa.server.app import create_app

from .conftest import write_corpus

HTML = {"accept": "text/html"}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, FakeEmbedder())) as c:
        yield c


def test_ask_returns_the_documented_json(client: TestClient) -> None:
    response = client.post(
        "/api/ask", json={"question": "ai chu tri hoi nghi truc tuyen toan quoc", "top_k": 2}
    )
    assert response.status_code == 200
    data = response.json()
    assert list(data) == [
        "question",
        "answer",
        "answerable",
        "confidence",
        "lead",
        "short_answer",
        "sources",
        "reply",
        "generated",
        "note",
    ]
    assert data["reply"] == data["answer"] and data["generated"] is False and data["note"] is None
    assert data["answerable"] is True and "**Trương Thị Mai**" in data["answer"]
    assert len(data["sources"]) == 2 and data["sources"][0]["doc_id"] == "a_conference"
    assert list(data["sources"][0]) == ["doc_id", "title", "url", "text", "score", "start", "end"]


def test_top_k_defaults_to_five_and_is_capped_by_the_index(client: TestClient) -> None:
    data = client.post("/api/ask", json={"question": "hội nghị Hà Nội"}).json()
    assert 1 <= len(data["sources"]) <= 5


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"question": ""}, "empty"),
        ({"question": "   "}, "empty"),
        ({"question": "x" * 1001}, "limit is 1000"),
        ({"question": "hội nghị", "top_k": 0}, "top_k"),
        ({"question": "hội nghị", "top_k": -1}, "top_k"),
        ({"question": "hội nghị", "top_k": 10**6}, "top_k"),
        ({"question": "hội nghị", "top_k": "5"}, "top_k"),
        ({"question": 5}, "question"),
        ({"question": None}, "question"),
        ({"question": ["a"]}, "question"),
        ({}, "question"),
        ({"question": "hội nghị", "extra": 1}, "extra"),
        ({"question": "a\x00b"}, "NUL"),
    ],
)
def test_bad_input_is_a_clear_422(client: TestClient, body: object, fragment: str) -> None:
    response = client.post("/api/ask", json=body)
    assert response.status_code == 422
    assert fragment in response.json()["detail"]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [(b"not json", "not valid JSON"), (b'{"question": "\\ud800"}', "surrogate"), (b"[1, 2]", "dictionary")],
)
def test_malformed_bodies_are_a_clear_422(client: TestClient, raw: bytes, fragment: str) -> None:
    response = client.post("/api/ask", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert fragment in response.json()["detail"]


def test_health_reports_embedder_and_index(client: TestClient) -> None:
    data = client.get("/api/health").json()
    assert data["status"] == "ok"
    assert data["embedder"]["id"] == "fake-hash@256"
    assert data["index"]["counts"]["documents"] == 3 and data["index"]["built_at"]


def test_without_articles_the_server_says_why(tmp_path: Path) -> None:
    (tmp_path / "none").mkdir()
    settings = Settings(seeds_dir=tmp_path / "none", index_dir=tmp_path / "i", model="fake")
    with TestClient(create_app(settings, FakeEmbedder())) as client:
        health = client.get("/api/health")
        assert health.status_code == 503 and "no articles" in health.json()["detail"]
        assert client.post("/api/ask", json={"question": "x"}).status_code == 503
        page = client.get("/?q=x", headers=HTML)
        assert page.status_code == 503 and "no articles" in page.text


def test_openapi_documents_the_api(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) == {
        "/api/ask",
        "/api/health",
        "/api/documents",
        "/api/documents/restore/{undo}",
        "/api/documents/{doc_id}",
        "/api/ask/stream",
        "/v1/models",
        "/v1/chat/completions",
    }
    assert client.get("/docs").status_code == 200


def test_chat_page_offers_examples_and_a_form_that_works_without_javascript(client: TestClient) -> None:
    page = client.get("/", headers=HTML)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html; charset=utf-8")
    assert '<form id="ask" class="ask" method="get" action="/">' in page.text
    # the examples come from the loaded articles: the person they name most, and the newest article
    assert "3 articles, 1 dated 2018." in page.text
    assert 'data-question="Who is Truong Thi Mai?"' in page.text
    assert 'data-question="Trương Thị Mai là ai?"' in page.text
    assert "Bài “Hội nghị trực tuyến toàn quốc về công tác tổ chức” nói gì?" in page.text
    # each chip is a link that asks its question without JavaScript
    assert 'href="/?q=Who%20is%20Truong%20Thi%20Mai%3F"' in page.text


def test_examples_follow_the_folder_being_served(tmp_path: Path) -> None:
    other = write_corpus(
        tmp_path / "other", {"x.txt": "Tin thể thao\n\nÔng Nguyễn Văn Minh vô địch giải chạy.\n"}
    )
    settings = Settings(seeds_dir=other, index_dir=tmp_path / "i", model="fake")
    with TestClient(create_app(settings, FakeEmbedder())) as client:
        page = client.get("/", headers=HTML).text
    assert "1 article, none dated." in page and 'data-question="Who is Nguyen Van Minh?"' in page
    assert "Trương Thị Mai" not in page


def test_server_rendered_answer_has_cards_linking_to_the_viewer(client: TestClient) -> None:
    page = client.get("/", params={"q": "Ai chủ trì hội nghị trực tuyến toàn quốc?"}, headers=HTML)
    assert page.status_code == 200
    assert "<strong>Trương Thị Mai</strong>" in page.text
    assert 'class="card' in page.text and "<mark>" in page.text
    assert "/doc/a_conference?start=" in page.text and "#hl" in page.text
    assert 'href="http://example.vn/hoi-nghi.html"' in page.text


def test_not_found_answer_looks_different(settings: Settings) -> None:
    strict = settings.model_copy(update={"min_confidence": 1.0})
    with TestClient(create_app(strict, FakeEmbedder())) as client:
        page = client.get("/turn", params={"q": "Who won the 2022 FIFA World Cup?"}, headers=HTML)
    assert 'class="bubble answer not-found"' in page.text and "Not found in the articles." in page.text
    assert 'class="card' not in page.text


def test_turn_fragment_and_empty_question(client: TestClient) -> None:
    fragment = client.get("/turn", params={"q": "1.549 biên chế"}, headers=HTML)
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith('<article class="turn"')
    assert 'data-question="1.549 biên chế"' in fragment.text and 'data-doc-ids="b_visit' in fragment.text
    empty = client.get("/", params={"q": " "}, headers=HTML)
    assert empty.status_code == 422 and "the question is empty" in empty.text


def test_viewer_marks_passage_and_evidence(client: TestClient) -> None:
    answer = client.post(
        "/api/ask", json={"question": "Ai chủ trì hội nghị trực tuyến toàn quốc?", "top_k": 1}
    )
    source = answer.json()["sources"][0]
    page = client.get(f"/doc/{source['doc_id']}", params={"start": source["start"], "end": source["end"]})
    assert page.status_code == 200
    assert '<mark class="passage" id="hl">' in page.text
    assert "Hội nghị trực tuyến toàn quốc về công tác tổ chức" in page.text


@pytest.mark.parametrize("query", [{"start": 5, "end": 2}, {"start": -1, "end": 10**9}, {}])
def test_viewer_ignores_bad_offsets(client: TestClient, query: dict[str, int]) -> None:
    page = client.get("/doc/b_visit", params=query)
    assert page.status_code == 200 and "<mark" not in page.text


@pytest.mark.parametrize(
    "path",
    [
        "/doc/nope",
        "/doc/..%2Fpyproject",
        "/doc/%2e%2e%2fqa%2fapi",
        "/static/../qa/api.py",
        "/static/%2e%2e/qa/api.py",
        "/static/%2e%2e%2fqa%2fapi.py",
        "/static//etc/passwd",
        "/static/../../etc/passwd",
        "/staticx/style.css",
    ],
)
def test_unknown_and_traversal_paths_are_404(client: TestClient, path: str) -> None:
    response = client.get(path, headers=HTML)
    assert response.status_code == 404
    assert "root:" not in response.text and "create_app" not in response.text


def test_static_files_and_security_headers(client: TestClient) -> None:
    css = client.get("/static/style.css")
    assert css.status_code == 200 and "font-family" in css.text
    for response in (client.get("/", headers=HTML), client.get("/api/health")):
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "img-src 'self'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"


def test_hostile_article_renders_as_text(tmp_path: Path) -> None:
    hostile = (
        "<script>alert('title')</script> Tiêu đề độc hại\n\n"
        "Bài viết có <img src=x onerror=alert(1)> và [link](javascript:alert(2)) cùng ![ảnh](http://evil.example/x.png).\n\n"
        "Nguồn: javascript:alert(3)\n"
    )
    corpus = write_corpus(tmp_path / "evil", {"<img src=x onerror=alert(9)>.txt": hostile})
    settings = Settings(seeds_dir=corpus, index_dir=tmp_path / "i", model="fake")
    with TestClient(create_app(settings, FakeEmbedder())) as client:
        data = client.post("/api/ask", json={"question": "bài viết độc hại"}).json()
        assert (
            data["sources"][0]["text"].count("<img src=x onerror=alert(1)>") == 1
        )  # JSON carries data as-is
        doc_id = data["sources"][0]["doc_id"]
        pages = [
            client.get("/", params={"q": "bài viết độc hại"}, headers=HTML).text,
            client.get(f"/doc/{doc_id}", headers=HTML).text,
        ]
    for page in pages:
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page or "&lt;img src=x onerror=alert(9)&gt;" in page
        assert 'href="javascript:' not in page and "<img" not in page


def test_history_takes_back_the_short_answer_the_api_returned(client: TestClient) -> None:
    first = client.post("/api/ask", json={"question": "Ai chủ trì hội nghị trực tuyến toàn quốc?"}).json()
    turn = {
        "question": first["question"],
        "answer": first["answer"],
        "doc_ids": [s["doc_id"] for s in first["sources"]],
        "short_answer": first["short_answer"],  # the object, as it came
    }
    follow = client.post("/api/ask", json={"question": "Bà ấy là ai?", "history": [turn]})
    assert follow.status_code == 200, follow.text
    as_text = client.post(
        "/api/ask", json={"question": "Bà ấy là ai?", "history": [turn | {"short_answer": "Trương Thị Mai"}]}
    )
    assert as_text.json()["answer"] == follow.json()["answer"]


def test_an_empty_folder_says_how_to_add_articles_and_never_shows_its_path_to_others(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    settings = Settings(
        seeds_dir=folder,
        index_dir=tmp_path / "index",
        model="fake",
        allow_uploads=True,
        allowed_hosts=["127.0.0.1", "qa.example.org"],
    )
    with TestClient(create_app(settings, FakeEmbedder())) as client:
        local = client.get("/", headers={**HTML, "Host": "127.0.0.1:8000"}).text
        assert "No articles yet · Chưa có bài báo nào" in local and str(folder.resolve()) in local
        assert (
            "drop them in the box below" in local
            and 'class="examples" aria-label="Example questions" hidden' in local
        )
        remote = client.get("/", headers={**HTML, "Host": "qa.example.org"}).text
        assert "No articles yet" in remote and str(folder) not in remote
        listed = client.get("/api/documents", headers={"Host": "qa.example.org"})
        assert (
            listed.status_code == 200 and listed.json()["documents"] == []
        )  # the first upload's progress shows
        asked = client.post("/api/ask", json={"question": "Ai chủ trì?"}, headers={"Host": "qa.example.org"})
        assert asked.status_code == 503 and "chưa có bài báo nào" in asked.json()["detail"]
        assert str(folder) not in asked.text


def test_a_card_shows_the_sentences_around_evidence_of_two_sentences() -> None:
    from qa.server.pages import _in_context

    text = "Một câu trước. Hai là bằng chứng. Ba cũng là bằng chứng. Bốn là câu sau. Năm thì không."
    start, end = text.index("Hai"), text.index(" Bốn")
    shown = [(f.text, f.kind) for f in _in_context(text, start, end)]
    assert shown == [
        ("Một câu trước. ", ""),
        ("Hai là bằng chứng. Ba cũng là bằng chứng.", "evidence"),
        (" Bốn là câu sau.", ""),
    ]
