"""The site file's ``gateway.http`` section: where the pages and the API listen."""

from __future__ import annotations

from pydantic import Field, model_validator

from gateway.config.base import Strict


class HttpSettings(Strict):
    host: str = Field("127.0.0.1", title="Listen address")
    port: int = Field(8112, ge=0, le=65535, title="Listen port (0: any free port)")
    session_hours: float = Field(12, gt=0, title="Session cookie lifetime, hours")
    secure_cookies: bool = Field(False, title="Mark the session cookie Secure (behind TLS)")
    intake_port: int | None = Field(
        None, ge=1, le=65535,
        title="With a web process (`siaga gateway --web-only` on `port`, docs/deploy-scale.md): "
              "the gateway process's own port (health, metrics, API; nobody's pages)")

    @model_validator(mode="after")
    def _two_ports(self) -> HttpSettings:
        if self.intake_port is not None and self.intake_port == self.port:
            raise ValueError("intake_port harus lain dari port / intake_port must differ from port")
        return self
