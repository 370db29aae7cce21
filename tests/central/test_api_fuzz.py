"""Property-based run of the fleet router's OpenAPI schema over a real HTTP
server (uvicorn): no request, however odd, may produce a server error."""

from __future__ import annotations

import socket
import threading
import time

import schemathesis
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from gateway.fleet.api import make_router
from tests.central.conftest import provision


def test_fleet_api_has_no_server_errors(site):
    provision(site, "box-01", groups=["north"])
    central = site.central
    central.config.set("box-01", {"volume": 10})
    app = FastAPI()
    app.include_router(make_router(central.fleet))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        base = f"http://127.0.0.1:{port}"
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
        operations = [r.ok() for r in schema.get_all_operations()]
        assert len(operations) >= 14

        @settings(max_examples=10, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            case.call_and_validate(base_url=base, checks=[not_a_server_error], timeout=10)

        for op in operations:
            given(case=op.as_strategy())(run)()
    finally:
        server.should_exit = True
        t.join(10)
