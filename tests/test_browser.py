"""The chat in a real headless Chromium (Debian's package driven by Playwright, never a downloaded one)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from qa.config import Settings
from qa.embed import FakeEmbedder
from qa.engine import Engine
from qa.server.app import create_app

from .conftest import HANG, ROOT, serve_in_thread, write_corpus
from .gated import IndexGatedEmbedder

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "build" / "screenshots"

pytestmark = [pytest.mark.real_model, pytest.mark.browser]


@pytest.fixture(scope="module")
def live_url(real_settings: Settings, real_engine: Engine) -> Iterator[str]:
    """The app with the real model on a free loopback port, served by uvicorn in a thread."""
    with serve_in_thread(create_app(real_settings, real_engine.embedder)) as url:
        yield url


HOSTILE = (
    "<script>alert('title')</script> Bài viết độc hại <img src=x onerror=alert(1)>\n\n"
    'Hội nghị độc hại có <img src=x onerror=alert(2)> và <a href="javascript:alert(3)">liên kết</a> cùng '
    '![ảnh](http://evil.example/x.png) và <iframe src="http://evil.example/"></iframe>.\n\n'
    "Nguồn: javascript:alert(4)\n"
)


@pytest.fixture(scope="module")
def hostile_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app over an article (and file name) full of markup meant to run or to call out."""
    folder = tmp_path_factory.mktemp("hostile")
    corpus = write_corpus(folder / "articles", {"<img src=x onerror=alert(9)>.txt": HOSTILE})
    settings = Settings(seeds_dir=corpus, index_dir=folder / "index", model="fake")
    with serve_in_thread(create_app(settings, FakeEmbedder())) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"browser test skipped: {CHROMIUM} is missing (install Debian's chromium package)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="browser test skipped: playwright missing")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def _new_page(browser: object, **options: object) -> Any:
    """A new page whose waits give up only after the hang guard (a busy machine may be slow)."""
    page = browser.new_page(**options)  # type: ignore[attr-defined]
    page.set_default_timeout(HANG * 1000)
    return page


def _watched_page(browser: object, **options: object) -> tuple[Any, list[str], list[str]]:
    """A new page, with the dialogs it opens and the requests it sends off localhost recorded."""
    page = _new_page(browser, **options)
    dialogs: list[str] = []
    outside: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on(
        "request",
        lambda r: None if urlsplit(r.url).hostname in ("127.0.0.1", "localhost") else outside.append(r.url),
    )
    return page, dialogs, outside


def _answered(page: Any, send: Callable[[], object]) -> Any:
    """Send a question with ``send`` and wait until its answer has streamed in; the new turn.

    The sources' cards arrive before the answer's text, so waiting for a card reads half an answer.
    """
    finished = "article.turn:not(.pending-turn):not(.streaming-turn)"
    before = page.locator(finished).count()
    send()
    page.wait_for_function(f"n => document.querySelectorAll('{finished}').length > n", arg=before)
    return page.locator("article.turn").last


def _ask(page: Any, question: str) -> Any:
    """Ask in the chat and wait until the answer has streamed in; the new turn."""
    return _answered(page, lambda: (page.fill("#q", question), page.press("#q", "Enter")))


def test_ask_in_the_browser_and_open_the_source(browser: object, live_url: str) -> None:
    page, dialogs, outside = _watched_page(browser, viewport={"width": 390, "height": 844})
    page.goto(live_url + "/")
    answer = _ask(page, "Who chaired the 2018 review meeting?").locator(".bubble.answer").inner_text()
    assert answer and "Not found" not in answer
    cards = page.locator("article.turn .card .card-title")
    doc_ids = [cards.nth(i).get_attribute("title") for i in range(cards.count())]
    assert "001_76149756d6973ddd" in doc_ids[:3]
    assert len(doc_ids) == len(set(doc_ids))  # one card per article
    assert page.locator("article.turn .card mark").count() >= 1  # the evidence is highlighted

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "chat.png"), full_page=True)

    page.locator("article.turn .card a.open").first.click()
    page.wait_for_url("**/doc/**")
    highlighted = page.locator("#hl")
    highlighted.wait_for()
    assert highlighted.is_visible()
    box = highlighted.bounding_box()
    assert box is not None and 0 < box["y"] < 844  # scrolled into view, not under the top edge
    back = page.locator(".back a").bounding_box()
    assert (
        back is not None and back["y"] >= 0 and back["y"] + back["height"] <= box["y"]
    )  # the way back shows
    page.screenshot(path=str(SCREENSHOTS / "viewer.png"))
    assert dialogs == [] and outside == []


def test_example_questions_and_vietnamese_rendering(browser: object, live_url: str) -> None:
    page = _new_page(browser)
    page.goto(live_url + "/")
    assert "5 articles, 1 dated 2018" in page.locator("#loaded").inner_text()
    turn = _answered(page, page.locator(".example", has_text="Who is Hoang Trung Hai?").click)
    assert "Hoàng Trung Hải" in turn.locator(".bubble.answer").inner_text()
    assert (
        page.locator("article.turn .card .card-title").first.get_attribute("title") == "001_76149756d6973ddd"
    )


def test_hostile_article_stays_inert_in_chat_and_viewer(browser: object, hostile_url: str) -> None:
    page, dialogs, outside = _watched_page(browser)
    page.goto(hostile_url + "/")
    _ask(page, "hội nghị độc hại")
    assert "<img src=x onerror=alert(2)>" in page.locator("article.turn .card .passage").first.inner_text()
    assert page.locator("article.turn img, article.turn iframe, article.turn script").count() == 0
    page.locator("article.turn .card a.open").first.click()
    page.wait_for_url("**/doc/**")
    assert "<script>alert('title')</script>" in page.locator("h1").inner_text()
    assert page.locator(".document img, .document iframe, .document script").count() == 0
    page.goto(hostile_url + "/?q=" + "<script>alert(5)</script>")
    page.wait_for_load_state("networkidle")  # every script has run and every request has been made
    assert dialogs == [] and outside == []


def test_form_works_with_javascript_off(browser: object, live_url: str) -> None:
    context = browser.new_context(java_script_enabled=False)  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(HANG * 1000)
    page.goto(live_url + "/")
    page.fill("#q", "Ai chủ trì hội nghị trực tuyến toàn quốc?")
    page.press("#q", "Enter")
    page.wait_for_url("**/?q=*")
    assert page.locator("article.turn .card").count() >= 1
    context.close()


@pytest.fixture
def upload_url(tmp_path: Path) -> Iterator[tuple[str, Path, IndexGatedEmbedder]]:
    """The app with uploads allowed over the tiny corpus; its article embedding can be held by a gate."""
    corpus = write_corpus(tmp_path / "articles")
    settings = Settings(seeds_dir=corpus, index_dir=tmp_path / "index", model="fake", allow_uploads=True)
    embedder = IndexGatedEmbedder()
    with serve_in_thread(create_app(settings, embedder)) as url:
        yield url, corpus, embedder


def test_upload_a_web_page_ask_about_it_then_remove_it(
    browser: object, upload_url: tuple[str, Path, IndexGatedEmbedder], tmp_path: Path
) -> None:
    from .formats import PAGE, PAGE_TITLE

    url, corpus, embedder = upload_url
    saved = tmp_path / "tin-ha-noi.html"  # a page saved from a browser, in the user's downloads
    saved.write_text(PAGE, encoding="utf-8")
    page, dialogs, outside = _watched_page(browser)
    page.goto(url + "/")
    embedder.armed.set()  # indexing waits at the gate, so the progress can be seen
    page.set_input_files("#files", str(saved))
    status = page.locator("#upload-status")
    status.filter(has_text="Indexing").wait_for()
    embedder.gate.set()
    status.filter(has_text="You can ask about it now").wait_for()
    assert PAGE_TITLE in status.inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "upload.png"))

    first = _ask(page, "Hà Nội tinh giản bao nhiêu biên chế?").locator(".card").first
    assert PAGE_TITLE in first.inner_text()

    first.locator("a.open").click()
    page.wait_for_url("**/doc/tin-ha-noi**")
    page.click("#remove")
    confirm = page.locator("#confirm-remove")
    assert confirm.is_visible() and "tin-ha-noi.html" in confirm.inner_text()
    assert (corpus / "tin-ha-noi.html").exists()  # nothing is removed before the user confirms
    page.screenshot(path=str(SCREENSHOTS / "remove-confirm.png"))
    page.click("#remove-yes")
    status = page.locator("#upload-status")
    status.filter(has_text="Removed tin-ha-noi.html").wait_for()
    assert not (corpus / "tin-ha-noi.html").exists()
    page.screenshot(path=str(SCREENSHOTS / "removed-undo.png"))
    page.click("#undo")  # changed their mind: the file comes back from the trash
    status.filter(has_text="Put tin-ha-noi.html back").wait_for()
    assert (corpus / "tin-ha-noi.html").exists() and not page.locator("#undo").is_visible()
    page.click("#remove")
    page.click("#remove-yes")
    status.filter(has_text="Removed tin-ha-noi.html").wait_for()
    assert not (corpus / "tin-ha-noi.html").exists()
    page.locator(".back a").click()
    page.wait_for_url(url + "/")
    again = _ask(page, "Hà Nội tinh giản bao nhiêu biên chế?")  # the earlier turns stay in the thread
    assert PAGE_TITLE not in again.inner_text()
    assert dialogs == [] and outside == []


def test_the_first_upload_into_an_empty_folder_shows_its_progress_and_the_counts_follow(
    browser: object, tmp_path: Path
) -> None:
    from .formats import PAGE, PAGE_TITLE

    empty = tmp_path / "articles"
    empty.mkdir()
    settings = Settings(seeds_dir=empty, index_dir=tmp_path / "index", model="fake", allow_uploads=True)
    embedder = IndexGatedEmbedder()
    saved = tmp_path / "tin-ha-noi.html"
    saved.write_text(PAGE, encoding="utf-8")
    with serve_in_thread(create_app(settings, embedder)) as url:
        page, dialogs, outside = _watched_page(browser)
        page.goto(url + "/")
        assert page.locator("#empty").is_visible()
        assert not page.locator(".examples").is_visible()  # no bare "Try:" with nothing to try
        embedder.armed.set()  # the first build waits at the gate: its progress must show meanwhile
        page.set_input_files("#files", str(saved))
        status = page.locator("#upload-status")
        status.filter(has_text="Indexing").wait_for()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "empty-first-upload.png"))
        embedder.gate.set()
        status.filter(has_text="You can ask about it now").wait_for()
        assert PAGE_TITLE in status.inner_text()
        page.locator("#loaded").filter(has_text="1 article").wait_for()  # refreshed without a reload
        assert page.locator("#empty").count() == 0
        assert (
            PAGE_TITLE
            in _ask(page, "Hà Nội tinh giản bao nhiêu biên chế?").locator(".card").first.inner_text()
        )
        assert dialogs == [] and outside == []


CONVERSATION = (
    "Who chaired the national online conference?",
    "What did she ask the provinces to do?",
    "Ai chủ trì hội nghị trực tuyến toàn quốc?",
)


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_after_three_turns_the_newest_answer_is_in_view(
    browser: object, live_url: str, width: int, height: int
) -> None:
    page, dialogs, outside = _watched_page(browser, viewport={"width": width, "height": height})
    page.goto(live_url + "/")
    for question in CONVERSATION:
        last = _ask(page, question)
    answer = last.locator(".bubble.answer").bounding_box()
    bar = page.locator("#ask").bounding_box()
    assert answer is not None and bar is not None
    assert answer["y"] >= 0 and answer["y"] + min(answer["height"], 48) <= bar["y"]  # its start is visible
    page.screenshot(path=str(SCREENSHOTS / f"three-turns-{width}.png"))
    # the follow-up was read in its conversation: answered from the conference article
    second = page.locator("article.turn").nth(1)
    assert second.locator(".card .card-title").first.get_attribute("title") == "002_88b7908893ec28a4"
    assert dialogs == [] and outside == []


def test_back_from_the_viewer_and_a_reload_keep_the_conversation(browser: object, live_url: str) -> None:
    page = _new_page(browser)
    page.goto(live_url + "/")
    for question in CONVERSATION[:2]:
        _ask(page, question)
    questions = page.locator("article.turn .bubble.question").all_inner_texts()
    assert questions == list(CONVERSATION[:2])
    page.locator("article.turn").last.locator("a.open").first.click()
    page.wait_for_url("**/doc/**")
    page.go_back()
    page.wait_for_url(live_url + "/")
    assert page.locator("article.turn .bubble.question").all_inner_texts() == questions
    page.reload()
    assert page.locator("article.turn .bubble.question").all_inner_texts() == questions
    page.locator("article.turn").first.locator("a.open").first.click()
    page.click("text=Back to the chat")
    page.wait_for_url(live_url + "/")
    assert page.locator("article.turn .bubble.question").all_inner_texts() == questions
    third = _ask(page, CONVERSATION[2])  # the restored turns still carry the conversation
    assert "Trương Thị Mai" in third.locator(".bubble.answer").inner_text()
    page.click("#clear")
    assert page.locator("article.turn").count() == 0
    page.reload()
    assert page.locator("article.turn").count() == 0


def test_api_docs_render_from_local_files_without_console_errors(browser: object, live_url: str) -> None:
    page, _, outside = _watched_page(browser)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(live_url + "/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "vnqa" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".opblock-summary-path", has_text="/v1/chat/completions").count() == 1
    assert errors == [] and outside == []


def test_dark_mode_follows_the_system_setting(browser: object, live_url: str) -> None:
    page = _new_page(browser, color_scheme="dark")
    page.goto(live_url + "/")
    background = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    assert background == "rgb(18, 22, 28)"
    assert page.evaluate("document.documentElement.lang") == "en"
    page.screenshot(path=str(SCREENSHOTS / "dark.png"))
