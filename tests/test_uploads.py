"""Adding and removing articles over HTTP: limits, hostile files, background indexing, live folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from qa.config import Settings
from qa.embed import FakeEmbedder
from qa.ingest.uploads import UploadError, check_name
from qa.server.app import create_app

from . import formats
from .conftest import HANG

QUESTION = "tinh giản bao nhiêu biên chế"


def _client(settings: Settings, **changes: Any) -> TestClient:
    return TestClient(
        create_app(settings.model_copy(update={"allow_uploads": True, **changes}), FakeEmbedder())
    )


def _upload(client: TestClient, *files: tuple[str, bytes], **data: str) -> Any:
    return client.post("/api/documents", files=[("files", f) for f in files], data=data)


def _indexed(client: TestClient, ticket: int) -> dict[str, Any]:
    status = client.app.state.updater.wait(ticket, HANG)  # type: ignore[attr-defined]
    assert status.completed >= ticket, status
    return dict(client.get("/api/documents").json())


def _cited(client: TestClient, question: str) -> list[str]:
    return [s["doc_id"] for s in client.post("/api/ask", json={"question": question}).json()["sources"]]


def test_uploaded_web_page_is_indexed_in_the_background_and_cited(settings: Settings) -> None:
    with _client(settings) as client:
        before = {d["doc_id"] for d in client.get("/api/documents").json()["documents"]}
        reply = _upload(client, ("tin-ha-noi.html", formats.PAGE.encode(), "text/html"))
        assert reply.status_code == 202, reply.text
        [saved] = reply.json()["saved"]
        assert saved == {
            "name": "tin-ha-noi.html",
            "doc_id": "tin-ha-noi",
            "title": formats.PAGE_TITLE,
            "replaced": False,
        }
        listing = _indexed(client, reply.json()["ticket"])
        docs = {d["doc_id"]: d for d in listing["documents"]}
        assert set(docs) == before | {"tin-ha-noi"}
        assert docs["tin-ha-noi"]["type"] == "html" and docs["tin-ha-noi"]["date"] == "2018-02-09"
        assert listing["indexing"]["state"] in ("idle", "indexing") and listing["indexing"]["error"] is None
        assert _cited(client, QUESTION)[0] == "tin-ha-noi"
        assert (settings.seeds_dir / "tin-ha-noi.html").read_text(encoding="utf-8") == formats.PAGE
        assert not [p for p in settings.seeds_dir.iterdir() if p.name.startswith(".")]  # no temp left

        gone = client.delete("/api/documents/tin-ha-noi")
        assert gone.status_code == 202, gone.text
        listing = _indexed(client, gone.json()["ticket"])
        assert {d["doc_id"] for d in listing["documents"]} == before
        assert "tin-ha-noi" not in _cited(client, QUESTION)
        assert not (settings.seeds_dir / "tin-ha-noi.html").exists()


def test_a_removed_article_waits_in_the_trash_and_undo_puts_it_back(settings: Settings) -> None:
    with _client(settings) as client:
        before = _cited(client, QUESTION)
        gone = client.delete(f"/api/documents/{before[0]}")
        assert gone.status_code == 202, gone.text
        undo = gone.json()["undo"]
        _indexed(client, gone.json()["ticket"])
        assert before[0] not in _cited(client, QUESTION)
        [kept] = [p for p in (settings.seeds_dir / ".trash").rglob("*") if p.is_file()]  # hidden: not indexed
        back = client.post(f"/api/documents/restore/{undo}")
        assert back.status_code == 202 and back.json()["restored"] == before[0], back.text
        _indexed(client, back.json()["ticket"])
        assert _cited(client, QUESTION) == before
        assert (settings.seeds_dir / kept.name).is_file() and not (
            settings.seeds_dir / ".trash" / undo
        ).exists()
        again = client.post(f"/api/documents/restore/{undo}")
        assert again.status_code == 404 and "nothing to restore" in again.json()["detail"]


@pytest.mark.parametrize("undo", ["../../etc", "x", "1-zzzzzzzz", "%2e%2e"])
def test_an_undo_token_that_is_not_one_restores_nothing(settings: Settings, undo: str) -> None:
    with _client(settings) as client:
        assert client.post(f"/api/documents/restore/{undo}").status_code == 404


def test_undo_refuses_a_name_taken_meanwhile_and_old_trash_is_emptied(settings: Settings) -> None:
    from qa.ingest import trash

    folder = settings.seeds_dir
    with _client(settings) as client:
        doc_id = _cited(client, QUESTION)[0]
        [name] = [p.name for p in folder.iterdir() if p.stem == doc_id]
        gone = client.delete(f"/api/documents/{doc_id}").json()
        _indexed(client, gone["ticket"])
        (folder / name).write_text("Bài mới\n\nMột bài khác cùng tên.", encoding="utf-8")
        taken = client.post(f"/api/documents/restore/{gone['undo']}")
        assert taken.status_code == 409 and name in taken.json()["detail"]
    old = trash.discard(folder, Path(name), now=0)  # removed at the start of 1970: long past the week kept
    assert (folder / ".trash" / old).is_dir()
    trash.empty(folder, now=time.time())
    assert not (folder / ".trash" / old).exists() and (folder / ".trash" / gone["undo"]).is_dir()


def test_every_type_uploads_and_an_existing_name_needs_replace(settings: Settings) -> None:
    with _client(settings) as client:
        files = [
            ("report.pdf", formats.pdf_bytes(), "application/pdf"),
            ("summary.docx", formats.docx_bytes(), "application/octet-stream"),
            ("notes.md", formats.MARKDOWN.encode(), "text/markdown"),
        ]
        reply = _upload(client, *files)
        assert reply.status_code == 202, reply.text
        docs = {d["doc_id"]: d for d in _indexed(client, reply.json()["ticket"])["documents"]}
        assert {docs[k]["title"] for k in ("report", "summary", "notes")} == {
            formats.PDF_TITLE,
            formats.DOCX_TITLE,
            "Hội nghị trực tuyến toàn quốc về công tác tổ chức",
        }
        again = _upload(client, ("notes.md", b"Bai moi\n\nNoi dung moi.", "text/markdown"))
        assert again.status_code == 409 and "already in the folder" in again.json()["detail"]
        replaced = _upload(
            client, ("notes.md", "Bài mới\n\nNội dung mới.".encode(), "text/markdown"), replace="true"
        )
        assert replaced.status_code == 202 and replaced.json()["saved"][0]["replaced"] is True
        docs = {d["doc_id"]: d for d in _indexed(client, replaced.json()["ticket"])["documents"]}
        assert docs["notes"]["title"] == "Bài mới"


@pytest.mark.parametrize(
    ("name", "data", "status", "detail"),
    [
        ("../../escape.txt", b"Title\n\nText.", 422, "contains a folder"),
        ("..\\escape.txt", b"Title\n\nText.", 422, "contains a folder"),
        ("what?.txt", b"Title\n\nText.", 422, "reserved character"),
        ("CON.txt", b"Title\n\nText.", 422, "reserved on Windows"),
        (".hidden.txt", b"Title\n\nText.", 422, "starts with a dot"),
        ("photo.png", b"\x89PNG\r\n", 422, "unsupported type"),
        ("bomb.docx", formats.zip_bomb_docx(), 422, "would expand to 200 MB"),
        ("scan.pdf", formats.scanned_pdf_bytes(), 422, "no text layer"),
        ("latin1.txt", "Tiêu đề".encode("cp1258", errors="replace") + b"\xff", 422, "not UTF-8"),
        ("empty.txt", b"   ", 422, "empty"),
    ],
)
def test_hostile_or_unusable_uploads_are_refused_and_nothing_is_lost(
    settings: Settings, name: str, data: bytes, status: int, detail: str
) -> None:
    with _client(settings) as client:
        before = sorted(p.name for p in settings.seeds_dir.rglob("*"))
        answer = client.post("/api/ask", json={"question": "Ai chủ trì hội nghị trực tuyến?"}).json()
        reply = _upload(
            client,
            ("ok.txt", b"Fine\n\nA fine article.", "text/plain"),
            (name, data, "application/octet-stream"),
        )
        assert reply.status_code == status, reply.text
        assert detail in reply.json()["detail"]
        assert sorted(p.name for p in settings.seeds_dir.rglob("*")) == before  # not even ok.txt
        assert not (settings.seeds_dir.parent / "escape.txt").exists()
        assert client.post("/api/ask", json={"question": "Ai chủ trì hội nghị trực tuyến?"}).json() == answer


def test_script_in_an_uploaded_page_is_stored_and_shown_inert(settings: Settings) -> None:
    page = (
        "<html><head><title>Bài có mã độc</title></head><body><article><h1>Bài có mã độc</h1>"
        "<p>Đoạn văn đầu tiên của bài báo về giao thông đô thị ở Hà Nội, đủ dài để được giữ lại.</p>"
        '<p>&lt;script&gt;alert("x")&lt;/script&gt; <img src=x onerror="alert(1)"> hết bài về giao thông.</p>'
        "<script>alert('run')</script></article></body></html>"
    )
    with _client(settings) as client:
        reply = _upload(client, ("evil.html", page.encode(), "text/html"))
        _indexed(client, reply.json()["ticket"])
        viewer = client.get("/doc/evil", headers={"Accept": "text/html"}).text
        assert "<script>alert" not in viewer and "onerror=" not in viewer
        assert "&lt;script&gt;alert" in viewer  # the article's own text, escaped
        chat = client.get("/", params={"q": "bài về giao thông đô thị"}, headers={"Accept": "text/html"}).text
        assert "<script>alert" not in chat


def test_upload_limits_size_and_count(settings: Settings) -> None:
    with _client(settings, max_upload_bytes=4096, max_upload_files=2) as client:
        big = _upload(client, ("big.txt", b"Title\n\n" + b"x" * 8192, "text/plain"))
        assert big.status_code == 413
        many = _upload(client, *[(f"{i}.txt", b"T\n\nText.", "text/plain") for i in range(3)])
        assert many.status_code == 422 and "at most 2" in many.json()["detail"]
        assert client.get("/api/health").status_code == 200


def test_writes_are_off_unless_allowed_and_only_from_the_servers_own_pages(settings: Settings) -> None:
    with TestClient(create_app(settings, FakeEmbedder())) as client:
        reply = _upload(client, ("a.txt", b"T\n\nText.", "text/plain"))
        assert reply.status_code == 403 and "--allow-uploads" in reply.json()["detail"]
        assert client.delete("/api/documents/a_conference").status_code == 403
        assert "upload" not in client.get("/", headers={"Accept": "text/html"}).text
    with _client(settings) as client:
        foreign = client.post(
            "/api/documents",
            files=[("files", ("a.txt", b"T\n\nText."))],
            headers={"Origin": "http://evil.example"},
        )
        assert (
            client.post(
                "/api/documents",
                files=[("files", ("a.txt", b"T\n\nText."))],
                headers={"Sec-Fetch-Site": "cross-site"},
            ).status_code
            == 403
        )
        assert foreign.status_code == 403 and "own page" in foreign.json()["detail"]
        assert client.delete("/api/documents/nope").status_code == 404
        assert 'id="upload"' in client.get("/", headers={"Accept": "text/html"}).text


RAILWAY = "Tin mới về đường sắt\n\nTuyến đường sắt đô thị Nhổn - ga Hà Nội chạy thử đoạn trên cao.\n"


def _served_until(client: TestClient, doc_id: str, present: bool) -> None:
    """Wait until the served index holds ``doc_id`` (or, with ``present`` false, no longer does)."""
    updater = client.app.state.updater  # type: ignore[attr-defined]
    deadline = time.monotonic() + HANG
    while (doc_id in client.app.state.engine.index.documents) != present:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, updater.status()
        updater.wait(updater.status().completed + 1, 0.1)


# an hour between looks: only the OS's notice (inotify) can bring the article in
@pytest.mark.parametrize("interval", [0.05, 3600], ids=["looked-at", "told-by-the-os"])
def test_a_file_saved_into_the_folder_is_picked_up_by_a_running_server(
    settings: Settings, interval: float
) -> None:
    with TestClient(
        create_app(settings.model_copy(update={"watch_interval": interval}), FakeEmbedder())
    ) as client:
        (settings.seeds_dir / "moi.txt").write_text(RAILWAY, encoding="utf-8")
        _served_until(client, "moi", present=True)
        assert _cited(client, "đường sắt đô thị Nhổn")[0] == "moi"
        # laid over the build as a segment: the build itself was not redone
        assert "+segment-" in client.get("/api/health").json()["index"]["version"]
        (settings.seeds_dir / "moi.txt").unlink()
        _served_until(client, "moi", present=False)


@pytest.mark.parametrize("name", ["bài báo mới.txt", "Tin_2023-08-07 (1).md", "a.b.c.html"])
def test_ordinary_names_are_kept(name: str) -> None:
    assert check_name(name) == name


def test_nul_in_a_name_is_refused() -> None:
    # over HTTP the multipart parser already turns a NUL into "%00"; the check stands on its own too
    with pytest.raises(UploadError, match="NUL"):
        check_name("bad\x00name.txt")


def test_names_are_stored_in_nfc() -> None:
    import unicodedata

    assert check_name(unicodedata.normalize("NFD", "bài.txt")) == "bài.txt"
    with pytest.raises(UploadError):
        check_name("")
