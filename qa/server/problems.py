"""Errors as the client reads them: JSON ``{"detail": ...}`` for the API (and any client that does not
ask for HTML), the error page for a browser; one readable sentence per validation problem."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..engine import Engine
from ..errors import (
    ArticleExistsError,
    ArticleNotFoundError,
    NotServingError,
    QuestionError,
    StoreError,
    UploadError,
    UploadsOffError,
)

_UPLOAD_STATUS: dict[type[UploadError], int] = {
    UploadsOffError: 403,
    ArticleNotFoundError: 404,
    ArticleExistsError: 409,
}


def install(app: FastAPI, templates: Jinja2Templates) -> None:
    """Answer ``app``'s errors as problems (the error page rendered from ``templates``)."""

    @app.exception_handler(NotServingError)
    async def unavailable(request: Request, exc: NotServingError) -> Response:
        return _problem(request, templates, 503, f"vnqa cannot answer right now: {exc}")

    @app.exception_handler(StoreError)
    async def store_down(request: Request, exc: StoreError) -> Response:
        response = _problem(request, templates, 503, f"vnqa cannot answer right now: {exc}")
        response.headers["retry-after"] = "5"
        return response

    @app.exception_handler(QuestionError)
    async def bad_question(request: Request, exc: QuestionError) -> Response:
        return _problem(request, templates, 422, str(exc))

    @app.exception_handler(UploadError)
    async def bad_upload(request: Request, exc: UploadError) -> Response:
        return _problem(request, templates, _UPLOAD_STATUS.get(type(exc), 422), str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        return _problem(request, templates, 422, _describe(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404:
            detail = "Not found."
        return _problem(request, templates, exc.status_code, detail)


def engine_of_request(request: Request) -> Engine:
    """The engine serving ``request``; :class:`NotServingError` (503) with the reason when there is none."""
    engine: Engine | None = request.app.state.engine
    if engine is None:
        raise NotServingError(request.app.state.problem or "the index is not loaded")
    return engine


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or "text/html" not in request.headers.get("accept", "")


def _problem(request: Request, templates: Jinja2Templates, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    return templates.TemplateResponse(
        request, "error.html", {"message": message, "examples": ()}, status_code=status
    )


def _describe(exc: RequestValidationError) -> str:
    """One readable sentence per validation problem, e.g. "top_k: must be at most 20"."""
    parts = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            parts.append("the request body is not valid JSON")
            continue
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query"))
        message = str(error.get("msg", "invalid value"))
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid request"
