"""Adding, listing and removing articles over HTTP, and what background indexing is doing.

Routes::

    GET    /api/documents            the indexed articles and the indexing status
    POST   /api/documents            multipart ``files`` (+ ``replace``): add articles (``--allow-uploads``)
    DELETE /api/documents/{doc_id}   move an article's file to the folder's trash (``--allow-uploads``)
    POST   /api/documents/restore/{undo}   put it back while the trash keeps it (7 days)

Writes are off unless the server allows uploads, and refused when a browser marks them as coming from
another site. Files are checked and written by :mod:`qa.uploads`; the app's updater indexes them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, File, Form, Request, UploadFile
from pydantic import BaseModel, Field

from ..config import Settings
from ..engine import Engine
from ..errors import ArticleNotFoundError, UploadError, UploadsOffError
from ..ingest.uploads import remove_article, restore_article, save_articles


class Problem(BaseModel):
    detail: str


class Indexing(BaseModel):
    state: str = Field(description="'idle' or 'indexing'.")
    completed: int = Field(description="Background builds finished; a change with ticket t is in once >= t.")
    pending: bool = Field(description="Another build is waiting to start.")
    done: int = Field(description="Texts embedded so far by the running build.")
    total: int = Field(description="Texts the running build has to embed.")
    eta_seconds: float | None
    error: str | None = Field(description="Why the last build failed (the previous index keeps serving).")
    skipped: list[dict[str, str]] = Field(description="Files the last build did not index, with reasons.")


class DocumentOut(BaseModel):
    doc_id: str = Field(description="The file's path relative to the articles folder, without suffix.")
    title: str
    date: str | None
    url: str | None
    type: str = Field(description="The file type it was read from: txt, md, html, pdf, docx.")


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    indexing: Indexing
    uploads: bool


class Saved(BaseModel):
    name: str = Field(description="The file name written into the articles folder.")
    doc_id: str
    title: str
    replaced: bool


class UploadReply(BaseModel):
    saved: list[Saved]
    ticket: int = Field(description="Searchable once indexing.completed reaches this.")
    indexing: Indexing


class DeleteReply(BaseModel):
    deleted: str
    undo: str = Field(description="Restores the file with POST /api/documents/restore/{undo} (7 days).")
    ticket: int
    indexing: Indexing


class RestoreReply(BaseModel):
    restored: str = Field(description="The article id of the file put back.")
    ticket: int
    indexing: Indexing


def indexing_json(request: Request) -> dict[str, Any]:
    """The app's background indexing status, as JSON."""
    return dict(request.app.state.updater.status().as_json())


def router(settings: Settings, engine_of: Callable[[Request], Engine]) -> APIRouter:
    """The ``/api/documents`` routes over the folder of ``settings`` and the engine ``engine_of`` gives."""
    api = APIRouter(tags=["api"])

    def check_writes(request: Request) -> None:
        """Writes need --allow-uploads, and a browser may send them only from this server's own pages."""
        if not settings.allow_uploads:
            raise UploadsOffError(
                "adding and removing articles is off: start the server with --allow-uploads"
            )
        origin = request.headers.get("origin")
        site = request.headers.get("sec-fetch-site")
        if (
            origin is not None and urlsplit(origin).netloc != request.headers.get("host")
        ) or site == "cross-site":
            raise UploadsOffError("articles can only be added from this server's own page")

    @api.get("/api/documents", response_model=DocumentList, responses={503: {"model": Problem}}, tags=["api"])
    def api_documents(request: Request) -> dict[str, Any]:
        """The indexed articles (sorted by id) and what background indexing is doing (none yet, while
        the first articles of an empty folder are being indexed)."""
        if request.app.state.engine is None and request.app.state.empty:
            return {"documents": [], "indexing": indexing_json(request), "uploads": settings.allow_uploads}
        engine = engine_of(request)
        docs = [
            {
                "doc_id": d.doc_id,
                "title": d.title,
                "date": d.date,
                "url": d.url,
                "type": Path(d.path).suffix.lower().lstrip("."),
            }
            for d in sorted(engine.index.documents.values(), key=lambda d: d.doc_id)
        ]
        return {"documents": docs, "indexing": indexing_json(request), "uploads": settings.allow_uploads}

    @api.post(
        "/api/documents",
        response_model=UploadReply,
        status_code=202,
        responses={
            403: {"model": Problem},
            409: {"model": Problem},
            413: {"model": Problem},
            422: {"model": Problem},
        },
        tags=["api"],
    )
    async def api_upload(
        request: Request,
        files: Annotated[list[UploadFile], File(description="Article files (.txt .md .html .pdf .docx).")],
        replace: Annotated[bool, Form(description="Replace an article of the same name.")] = False,
    ) -> dict[str, Any]:
        """Add articles to the folder (each written atomically), then index them in the background.

        Every file is checked before any is written: one bad file refuses the whole upload.
        """
        check_writes(request)
        if len(files) > settings.max_upload_files:
            raise UploadError(f"{len(files)} files sent; at most {settings.max_upload_files} per upload")
        contents = [(upload.filename or "", await upload.read()) for upload in files]
        saved = await asyncio.to_thread(save_articles, settings.seeds_dir, contents, replace=replace)
        ticket = request.app.state.updater.request()
        return {
            "saved": [
                {
                    "name": s.name,
                    "doc_id": s.document.doc_id,
                    "title": s.document.title,
                    "replaced": s.replaced,
                }
                for s in saved
            ],
            "ticket": ticket,
            "indexing": indexing_json(request),
        }

    @api.delete(
        "/api/documents/{doc_id:path}",
        response_model=DeleteReply,
        status_code=202,
        responses={403: {"model": Problem}, 404: {"model": Problem}},
        tags=["api"],
    )
    def api_delete(request: Request, doc_id: str) -> dict[str, Any]:
        """Move an article's file to the folder's trash (``.trash/``, not indexed); it stops being cited
        once re-indexed, and ``undo`` puts it back."""
        check_writes(request)
        doc = engine_of(request).index.documents.get(doc_id)
        if doc is None:
            raise ArticleNotFoundError(f"no article with id {doc_id!r}")
        undo = remove_article(settings.seeds_dir, doc)
        ticket = request.app.state.updater.request()
        return {"deleted": doc_id, "undo": undo, "ticket": ticket, "indexing": indexing_json(request)}

    @api.post(
        "/api/documents/restore/{undo}",
        response_model=RestoreReply,
        status_code=202,
        responses={403: {"model": Problem}, 404: {"model": Problem}, 409: {"model": Problem}},
        tags=["api"],
    )
    def api_restore(request: Request, undo: str) -> dict[str, Any]:
        """Put a removed article's file back from the trash (the ``undo`` of its removal)."""
        check_writes(request)
        restored = restore_article(settings.seeds_dir, undo)
        ticket = request.app.state.updater.request()
        return {"restored": restored, "ticket": ticket, "indexing": indexing_json(request)}

    return api
