"""The message catalogue for the pages (``gateway.catalogue``): codes to
words in one language. No login needed: it holds no data, and the login
page reads it too."""

from __future__ import annotations

from fastapi import APIRouter, Response

from gateway import catalogue

router = APIRouter(prefix="/api", tags=["labels"])


@router.get("/labels", summary="Words for every code (statuses, categories, call types, ...)")
def labels(response: Response, lang: catalogue.Lang = "id") -> dict[str, dict[str, str]]:
    response.headers["Cache-Control"] = "max-age=300"
    return catalogue.table(lang)
