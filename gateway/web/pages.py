"""Routes that serve the page shells and their static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))

#: page name -> (template, title shown in the nav, roles it is meant for)
PAGES = {
    "console": ("console.html", "Konsol Operator / Staff console", "operator supervisor admin"),
    "opd": ("opd.html", "Portal OPD / OPD portal", "opd supervisor admin"),
    "dashboard": ("dashboard.html", "Dasbor KPI / KPI dashboard", "supervisor admin operator opd"),
    "fleet": ("fleet.html", "Armada / Fleet", "admin supervisor operator"),
    "flags": ("flags.html", "Nomor ditandai / Flagged numbers", "supervisor admin"),
}

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=RedirectResponse)
def root() -> RedirectResponse:
    return RedirectResponse("/dashboard", status_code=307)


@router.get("/login", response_class=HTMLResponse)
def login(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"page": "login", "pages": PAGES,
                                                              "site": request.app.title})


def _page(name: str):
    template, title, _roles = PAGES[name]

    def view(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, template, {"page": name, "title": title,
                                                              "pages": PAGES, "site": request.app.title})

    view.__name__ = f"page_{name}"
    return view


for _name in PAGES:
    router.add_api_route(f"/{_name}", _page(_name), methods=["GET"], response_class=HTMLResponse)


def mount_pages(app: FastAPI) -> None:
    """Add the pages and ``/static`` to a gateway app."""
    from gateway.web.docs import mount_docs

    app.include_router(router)
    mount_docs(app)  # before /static: the more specific mount wins only if first
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
