"""Pydantic models of the site configuration.

Every section forbids unknown keys (a typo is an error, not a silent default)
and cross-section checks (a rule naming an undefined OPD, the police route
without an MoU) live in :class:`SiteConfig`'s validator, so
``siaga gateway check-config`` catches them before a deployment.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from protocol.categories import CATALOGUE, Category
from protocol.ids import OPD_ID_PATTERN
from protocol.mqtt import BrokerSettings
from protocol.reports import CallType, Source

OpdKey = Annotated[str, StringConstraints(pattern=OPD_ID_PATTERN)]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{3,20}$")]

#: secrets that are refused outside demo mode
WEAK_SECRETS = {"", "secret", "changeme", "change-me", "password", "demo", "test", "siaga"}
MIN_SECRET_LEN = 16


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Mode(enum.StrEnum):
    PRODUCTION = "production"
    DEMO = "demo"  # default secrets and an anonymous broker are accepted


class Secret(Strict):
    """A secret given inline or, better, in a file (e.g. a systemd credential)."""

    value: str | None = Field(None, title="Inline secret", repr=False)
    file: Path | None = Field(None, title="File holding the secret")

    @model_validator(mode="after")
    def _one_source(self) -> Secret:
        if self.value is not None and self.file is not None:
            raise ValueError("give either value or file, not both")
        return self

    def resolve(self) -> str:
        """The secret text (file contents stripped); empty when unset."""
        if self.file is not None:
            return self.file.read_text().strip()
        return self.value or ""


class Contact(Strict):
    name: str = Field(title="Name", max_length=100)
    role: str | None = Field(None, title="Role, e.g. 'Kepala Bidang'", max_length=100)
    phone: Phone | None = Field(None, title="Phone number (SMS/voice)")
    email: str | None = Field(None, title="E-mail address", max_length=200)


class WebhookChannel(Strict):
    url: Annotated[str, StringConstraints(pattern=r"^https?://")] = Field(
        title="Webhook URL", description="JSON POST target; signed with HMAC-SHA256"
    )
    secret: Secret = Field(title="Shared secret for the signature (and for the OPD's callbacks)")
    timeout_s: float = Field(10.0, gt=0, le=120, title="HTTP timeout, seconds")


class Channels(Strict):
    webhook: WebhookChannel | None = Field(None, title="Webhook (JSON POST, HMAC-signed)")
    mqtt_terminal: bool = Field(
        False, title="MQTT terminal", description="Publish on siaga/v1/opd/{opd}/dispatch (QoS 1)"
    )
    sms: list[Phone] = Field(default_factory=list, title="SMS numbers (recorded; sent by a panel modem)")


class OpdConfig(Strict):
    """One city agency (Organisasi Perangkat Daerah)."""

    id: OpdKey = Field(title="OPD id", description="Short stable id used in rules, topics and URLs")
    name: str = Field(title="Full name", max_length=200)
    contacts: list[Contact] = Field(default_factory=list, title="People to call")
    channels: Channels = Field(default_factory=Channels, title="How dispatches reach the OPD")
    callback_token: Secret | None = Field(
        None, title="Bearer token the OPD uses for callbacks",
        description="Alternative to signing callbacks with the webhook secret",
    )


class RouteRule(Strict):
    categories: list[Category] = Field(min_length=1, title="Categories this rule routes")
    areas: list[str] | None = Field(
        None, title="Only for these areas (kecamatan/kelurahan); omit for every area"
    )
    opds: list[OpdKey] = Field(min_length=1, title="OPDs that receive the case")


class AutoDispatch(Strict):
    categories: list[Category] = Field(min_length=1, title="Categories")
    sources: list[Source] = Field(
        default_factory=lambda: list(Source), title="Sources dispatched without an operator"
    )


class Sla(Strict):
    ack_min: float | None = Field(None, gt=0, title="Minutes to acknowledge")
    resolve_min: float | None = Field(None, gt=0, title="Minutes to resolve")


class Routing(Strict):
    rules: list[RouteRule] = Field(
        default_factory=list,
        title="Routing rules", description="First matching rule wins; an area rule before a general one",
    )
    auto_dispatch: list[AutoDispatch] = Field(
        default_factory=list, title="Which category/source pairs are dispatched at once"
    )
    sla: dict[Category, Sla] = Field(default_factory=dict, title="SLA overrides by category")
    police_route_active: bool = Field(
        False, title="Police route active (MoU signed)",
        description="Without an MoU, police categories go to the operator's phone hand-off",
    )
    police_opd: OpdKey | None = Field(None, title="Id of the police OPD (e.g. polres)")


class Escalation(Strict):
    contacts: list[Contact] = Field(default_factory=list, title="Who is told when an SLA runs out")
    webhook: WebhookChannel | None = Field(None, title="Webhook notified on escalation")


class HttpSettings(Strict):
    host: str = Field("127.0.0.1", title="Listen address")
    port: int = Field(8112, ge=0, le=65535, title="Listen port (0: any free port)")
    session_hours: float = Field(12, gt=0, title="Session cookie lifetime, hours")
    secure_cookies: bool = Field(False, title="Mark the session cookie Secure (behind TLS)")


class DispatchSettings(Strict):
    max_attempts: int = Field(8, ge=1, le=100, title="Attempts before dead-letter")
    backoff_initial_s: float = Field(2.0, gt=0, title="First retry delay, seconds")
    backoff_max_s: float = Field(300.0, gt=0, title="Longest retry delay, seconds")
    poll_s: float = Field(1.0, gt=0, le=60, title="Outbox poll interval when idle")
    replay_window_s: int = Field(300, ge=10, le=3600, title="Signature timestamp tolerance")
    lease_s: float = Field(60.0, gt=0, title="How long one instance holds a claimed delivery")


#: the one description of the default MQTT client id (gateway.ingest.default_client_id)
CLIENT_ID_DEFAULT = "gateway-<instance_id>-<host>-<pid>, or gateway-<host>-<pid> without instance_id"


class IngestSettings(Strict):
    batch_max: int = Field(500, ge=1, le=1000, title="Most messages in one group commit")
    queue_max: int = Field(20000, ge=100, title="In-process queue bound (messages)")
    client_id: str | None = Field(
        None, title=f"MQTT client id (default: {CLIENT_ID_DEFAULT})",
        description="Unique per process by default, so two gateways on one host from one site "
                    "file never take each other's session over; set it only to give one process "
                    "a fixed id")
    receive_maximum: int = Field(
        1000, ge=1, le=65535, title="MQTT 5 receive maximum: unacked messages the broker may send",
        description="The broker's max_inflight_messages caps it too (QoS 1 is PUBACKed only "
                    "after the commit); see bench/gateway_ingest.py --broker-inflight",
    )

    @model_validator(mode="after")
    def _queue_holds_inflight(self) -> IngestSettings:
        # QoS 1 messages are PUBACKed only after their commit, so at most
        # receive_maximum of them wait in the queue: it must hold them all
        if self.queue_max <= self.receive_maximum:
            raise ValueError("queue_max must be larger than receive_maximum")
        return self


class GatewaySettings(Strict):
    """How this gateway process runs (not what the city is)."""

    database_url: str = Field(
        "sqlite:////var/lib/siaga-gateway/gateway.db",
        title="SQLAlchemy URL (SQLite file or PostgreSQL)",
        description="Four slashes for an absolute SQLite path: "
                    "sqlite:////var/lib/siaga-gateway/gateway.db (the gateway unit's StateDirectory)",
    )
    http: HttpSettings = Field(default_factory=HttpSettings, title="The HTTP API and pages")
    ingest: IngestSettings = Field(default_factory=IngestSettings, title="MQTT ingest of unit records")
    dispatch: DispatchSettings = Field(default_factory=DispatchSettings,
                                       title="Delivery of dispatches to OPDs (outbox, retries)")
    sla_check_s: float = Field(15.0, gt=0, le=600, title="How often SLA timers are checked")
    flag_sync_s: float = Field(
        5.0, gt=0, le=600, title="How often the flagged-number list is checked for panels",
        description="A new flag or a lift wakes it at once; this period catches expiries, "
                    "newly registered panels and flags made by another instance")
    kpi_snapshot_s: float = Field(
        5.0, ge=0, le=300, title="Seconds one KPI snapshot is shared by all viewers",
        description="GET /api/kpis recomputes a period's KPIs at most this often, once for all "
                    "dashboards (0: on every request)",
    )
    instance_id: str | None = Field(None, title="Name of this instance (default: host-pid)")
    fleet_config: Path | None = Field(
        None, title="central.yaml of the site's fleet admin",
        description="When set, this gateway also runs the fleet health watch and serves "
                    "/api/fleet (run it in exactly one instance per site)",
    )


class FlagSettings(Strict):
    """When a number is flagged as a repeat junk caller. A flag never blocks
    a call (a prankster can have a real emergency): it shows on the console
    and lights the panel's "flagged caller" LED while the number rings."""

    enabled: bool = Field(True, title="Flag repeat junk callers",
                          description="false: no number is ever flagged (lists and lifts still work)")
    calls: int = Field(3, ge=1, le=1000, title="Junk calls that flag a number (N)",
                       description="This many calls of the flagging types within window_days flag the "
                                   "number; after a flag, only calls since it count towards the next")
    window_days: float = Field(7.0, gt=0, le=365, title="Window for counting junk calls, days (M)",
                               description="Calls older than this do not count towards a flag")
    first_days: float = Field(3.0, gt=0, le=365, title="How long a first flag lasts, days",
                              description="The ministry's practice: 3 days; a repeat flag is permanent "
                                          "until a supervisor lifts it with a reason")
    types: list[CallType] = Field(
        default_factory=lambda: [CallType.PRANK, CallType.GHOST], min_length=1,
        title="Call types that count towards a flag",
        description="Default prank and ghost; test and misdial are honest mistakes")


class Site(Strict):
    name: str = Field(title="City name", max_length=100)
    case_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,5}$")] = Field(
        title="Case number prefix", description="e.g. MDN gives MDN-2026-000123"
    )
    timezone: str = Field("Asia/Jakarta", title="IANA time zone for hour-of-day KPIs")


class SiteConfig(Strict):
    """The whole site file."""

    mode: Mode = Field(Mode.PRODUCTION, title="production or demo")
    site: Site = Field(title="The city: name, case number prefix, time zone")
    broker: BrokerSettings = Field(default_factory=BrokerSettings, title="MQTT broker")
    gateway: GatewaySettings = Field(default_factory=GatewaySettings,
                                     title="How this gateway process runs (not what the city is)")
    opds: list[OpdConfig] = Field(min_length=1, title="The city's OPDs")
    routing: Routing = Field(default_factory=Routing, title="Which OPDs get which cases, SLAs")
    escalation: Escalation = Field(default_factory=Escalation, title="Who is told when an SLA runs out")
    flags: FlagSettings = Field(default_factory=FlagSettings,
                                title="Flagged numbers: repeat prank/ghost callers")

    @model_validator(mode="after")
    def _cross_checks(self) -> SiteConfig:
        ids = [o.id for o in self.opds]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate OPD id(s): {', '.join(dupes)}")
        known = set(ids)
        for n, rule in enumerate(self.routing.rules):
            unknown = [o for o in rule.opds if o not in known]
            if unknown:
                raise ValueError(f"routing.rules[{n}] names undefined OPD(s): {', '.join(unknown)}")
            never = [c for c in rule.categories if not CATALOGUE[c].routed]
            if never:
                raise ValueError(f"routing.rules[{n}]: {', '.join(never)} are never routed")
        pol = self.routing.police_opd
        if pol is not None and pol not in known:
            raise ValueError(f"routing.police_opd {pol!r} is not among the OPDs")
        if self.routing.police_route_active and pol is None:
            raise ValueError("routing.police_route_active needs routing.police_opd")
        return self

    def opd(self, opd_id: str) -> OpdConfig | None:
        return next((o for o in self.opds if o.id == opd_id), None)

    def insecure_secrets(self) -> list[str]:
        """Keys whose secret is missing, default or short. Refused outside demo."""
        bad: list[str] = []

        def check(key: str, secret: Secret | None) -> None:
            if secret is None:
                return
            try:
                value = secret.resolve()
            except OSError as exc:
                bad.append(f"{key}: cannot read secret file ({exc.strerror})")
                return
            if value.lower() in WEAK_SECRETS or len(value) < MIN_SECRET_LEN:
                bad.append(f"{key}: secret is empty, a default, or shorter than {MIN_SECRET_LEN}")

        for i, o in enumerate(self.opds):
            if o.channels.webhook:
                check(f"opds[{i}].channels.webhook.secret", o.channels.webhook.secret)
            check(f"opds[{i}].callback_token", o.callback_token)
        if self.escalation.webhook:
            check("escalation.webhook.secret", self.escalation.webhook.secret)
        if self.broker.username is None:
            bad.append("broker.username: anonymous broker access is only allowed in demo mode")
        else:
            try:
                pw = self.broker.resolve_password() or ""
            except OSError as exc:
                bad.append(f"broker.password_file: cannot read ({exc.strerror})")
            else:
                if pw.lower() in WEAK_SECRETS:
                    bad.append("broker.password: empty or a default")
        return bad


