"""Request errors as sentences for people: Bahasa Indonesia first, English
second, naming the field; never the 100,000 characters that were sent.

Why here: FastAPI's default 422 echoes the input and speaks pydantic's
English codes (``string_too_long``), which the console showed raw."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from gateway.catalogue import LABELS

#: field name -> its name in Bahasa Indonesia (the message catalogue)
FIELDS = {code: words[0] for code, words in LABELS["field"].items()}


def sentence(err: dict[str, Any]) -> str:
    """One error as 'Bahasa / English', naming the field."""
    loc = [p for p in err.get("loc", ()) if isinstance(p, str) and p not in ("body", "query", "path")]
    name = loc[-1] if loc else "permintaan"
    field = FIELDS.get(name, name)
    en = LABELS["field"].get(name, (name, name))[1]
    ctx = err.get("ctx") or {}
    kind = err.get("type", "")
    if kind == "string_too_long":
        n = ctx.get("max_length")
        return (f"{field.capitalize()} terlalu panjang: paling banyak {n} karakter. "
                f"/ {en}: at most {n} characters.")
    if kind == "missing":
        return f"{field.capitalize()} wajib diisi. / {en.capitalize()} is required."
    if kind == "string_pattern_mismatch":
        return f"{field.capitalize()} tidak sesuai format. / {en} has the wrong format."
    if kind in ("enum", "literal_error"):
        return f"Pilihan {field} tidak dikenal. / {en}: unknown choice."
    if kind == "string_too_short":
        n = ctx.get("min_length")
        return (f"{field.capitalize()} terlalu pendek: paling sedikit {n} karakter. "
                f"/ {en}: at least {n} characters.")
    if kind.startswith(("greater_than", "less_than")):
        return f"{field.capitalize()} di luar batas. / {en} is out of range."
    if kind == "place_or_caller":
        return err["msg"]
    return f"{field.capitalize()} tidak valid. / {en} is invalid."


async def validation_handler(_req: Request, exc: RequestValidationError) -> JSONResponse:
    detail = [{"loc": list(e.get("loc", ())), "type": e.get("type", ""), "msg": sentence(e)}
              for e in exc.errors()]
    return JSONResponse({"detail": detail}, status_code=422)
