"""`/docs` served from this machine, not from a CDN.

FastAPI's default Swagger page loads its script and styles from a public CDN:
in a control room on a closed city network it would stay blank. The assets
come from the `fastapi-offline` package instead (Swagger UI 5, which renders
the OpenAPI 3.1 documents FastAPI writes; we use only its files).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/static/swagger"


def mount_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` with local assets (call before mounting ``/static``)."""
    from pathlib import Path

    import fastapi_offline

    assets = Path(fastapi_offline.__file__).parent / "static"
    app.mount(ASSETS, StaticFiles(directory=str(assets)), name="swagger")

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js", swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url="data:,",
        )
