"""The answer's wire format, declared once: the models ``/openapi.json`` publishes and the JSON that
``qa ask --json``, ``POST /api/ask``, its stream and ``/v1``'s extra field send are built from them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..types import Answer


class SourceOut(BaseModel):
    doc_id: str
    title: str
    url: str | None
    text: str = Field(description="The passage, exactly as in the article.")
    score: float = Field(description="Retrieval score (fused dense and BM25), for ordering only.")
    start: int = Field(description="Offset of the passage in the article's NFC text.")
    end: int


class ShortAnswerOut(BaseModel):
    doc_id: str = Field(description="The article the span is in.")
    text: str = Field(description="The answer span, exactly as in the article.")
    start: int = Field(description="Offset of the span in the article's NFC text.")
    end: int


# An answer as ``qa ask --json`` prints it and ``/api/ask`` begins it.
class AnswerOut(BaseModel):
    question: str
    answer: str = Field(description="Evidence sentence(s); the answer span is wrapped in **.")
    answerable: bool
    confidence: float = Field(
        description="Probability (0..1) that the articles answer the question, calibrated on questions "
        "asked with and without their article; 'not found' below the language's threshold."
    )
    lead: str | None = Field(
        description="For an English question, the short answer in English form: 'Chaired by Trương Thị Mai "
        "(Truong Thi Mai)', 'On 7 August 2023', 'Number: 1,549 biên chế'."
    )
    short_answer: ShortAnswerOut | None = Field(
        description="The span that answers the question (person, place, date, number...), when one fits."
    )
    sources: list[SourceOut] = Field(description="Best first.")


# What ``POST /api/ask`` returns: the answer and the text to show (no docstring: it would become the
# schema's description in /openapi.json).
class AskResponse(AnswerOut):
    reply: str = Field(
        description="The text to show: worded by the LLM with [n] citations when one is configured and "
        "its citations hold, else the same as answer."
    )
    generated: bool = Field(description="Whether reply was written by the LLM.")
    note: str | None = Field(description="Why the extractive answer stands in for the LLM's, if it does.")


def answer_fields(answer: Answer) -> dict[str, Any]:
    """The fields of :class:`AnswerOut` for ``answer``, as models (for it or :class:`AskResponse`)."""
    short = answer.short_answer
    return {
        "question": answer.question,
        "answer": answer.answer,
        "answerable": answer.answerable,
        "confidence": answer.confidence,
        "lead": answer.lead,
        "short_answer": None
        if short is None
        else ShortAnswerOut(doc_id=short.doc_id, text=short.text, start=short.start, end=short.end),
        "sources": [
            SourceOut(
                doc_id=s.doc_id,
                title=s.title,
                url=s.url,
                text=s.text,
                score=s.score,
                start=s.start,
                end=s.end,
            )
            for s in answer.sources
        ],
    }


def answer_json(answer: Answer) -> dict[str, Any]:
    """The JSON of ``answer`` (:class:`AnswerOut`): ``qa ask --json``, and the start of ``/api/ask``'s."""
    return AnswerOut(**answer_fields(answer)).model_dump()
