"""Web pages: staff console, OPD portal, KPI dashboard, fleet view.

Server-rendered shells (Jinja2) with a little JavaScript that reads the same
REST API machines use, so the pages never see data the API would not give
the logged-in user: the API enforces roles, the pages only present.
"""

from gateway.web.pages import mount_pages

__all__ = ["mount_pages"]
