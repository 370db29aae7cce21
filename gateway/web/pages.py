"""Routes that serve the page shells and their static files."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))

#: page name -> (template, title shown in the nav, roles it is meant for)
PAGES = {
    "console": ("console.html", "Konsol Operator / Staff console", "operator supervisor admin"),
    "opd": ("opd.html", "Portal OPD / OPD portal", "opd supervisor admin"),
    "dashboard": ("dashboard.html", "Dasbor KPI / KPI dashboard", "supervisor admin mayor"),
    "fleet": ("fleet.html", "Armada / Fleet", "admin supervisor operator"),
    "flags": ("flags.html", "Nomor ditandai / Flagged numbers", "supervisor admin"),
}

#: pages reached from a link, not the nav: the case page (one per case; the API
#: refuses an OPD user another OPD's case)
CASE_PAGE = ("case.html", "Kasus / Case", "operator supervisor admin opd")

router = APIRouter(include_in_schema=False)


HOME = {"opd": "/opd", "operator": "/console"}


def _session_user(request: Request):
    from gateway import auth
    from gateway.api.deps import SESSION_COOKIE, get_state

    cookie = request.cookies.get(SESSION_COOKIE)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if not cookie and not (scheme.lower() == "bearer" and token):
        return None
    with get_state(request).db.read_session() as s:  # as the API does: reads take no lock
        if cookie:
            return auth.user_for_session(s, cookie)
        return auth.user_for_token(s, token)


@router.get("/", response_class=RedirectResponse)
def root(request: Request) -> RedirectResponse:
    user = _session_user(request)
    return RedirectResponse(HOME.get(user.role, "/dashboard") if user else "/login", status_code=307)


@router.get("/login", response_class=HTMLResponse)
def login(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "login.html", {"page": "login", "pages": PAGES,
                                                              "site": request.app.title})


def _page(name: str):
    """A page for its roles only: the server refuses the rest (403), as the
    API does; without a session, the login page."""
    template, title, roles = CASE_PAGE if name == "case" else PAGES[name]

    def view(request: Request) -> Response:
        user = _session_user(request)
        if user is None:
            return RedirectResponse(f"/login?next={quote(request.url.path, safe='')}", status_code=303)
        if user.role not in roles.split():
            return HTMLResponse(
                "<!doctype html><html lang='id'><meta charset='utf-8'><title>403</title>"
                "<body><h1>Tidak boleh / Forbidden</h1><p>Halaman ini bukan untuk peran Anda. "
                "/ This page is not for your role.</p><p><a href='/'>Kembali / Back</a></p></body></html>",
                status_code=403)
        prov = request.app.state.gw.cfg.province  # a province's console filters by city
        return templates.TemplateResponse(request, template, {"page": name, "title": title,
                                                              "pages": PAGES, "site": request.app.title,
                                                              "cities": prov.cities if prov else []})

    view.__name__ = f"page_{name}"
    return view


for _name in PAGES:
    router.add_api_route(f"/{_name}", _page(_name), methods=["GET"], response_class=HTMLResponse)
router.add_api_route("/cases/{ref}", _page("case"), methods=["GET"], response_class=HTMLResponse)


def mount_pages(app: FastAPI) -> None:
    """Add the pages and ``/static`` to a gateway app."""
    from gateway.web.docs import mount_docs

    app.include_router(router)
    mount_docs(app)  # before /static: the more specific mount wins only if first
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
