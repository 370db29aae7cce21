"""Pydantic models of the site configuration.

Every section forbids unknown keys (a typo is an error, not a silent default)
and cross-section checks (a rule naming an undefined OPD, the police route
without an MoU) live in :class:`SiteConfig`'s validator, so
``siaga gateway check-config`` catches them before a deployment.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from gateway.config.base import Strict
from gateway.config.http import HttpSettings
from gateway.config.province import ProvinceSettings
from gateway.config.sms import SmsModemSettings
from protocol.categories import CATALOGUE, Category
from protocol.configfile import read_secret
from protocol.ids import OPD_ID_PATTERN
from protocol.mqtt import BrokerSettings
from protocol.reports import CallType, Source

OpdKey = Annotated[str, StringConstraints(pattern=OPD_ID_PATTERN)]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{3,20}$")]

#: secrets that are refused outside demo mode
WEAK_SECRETS = {"", "secret", "changeme", "change-me", "password", "demo", "test", "siaga"}
MIN_SECRET_LEN = 16


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
            return read_secret(self.file)
        return self.value or ""


class Contact(Strict):
    name: str = Field(title="Name", max_length=100)
    role: str | None = Field(None, title="Role, e.g. 'Kepala Bidang'", max_length=100)
    phone: Phone | None = Field(None, title="Phone number (SMS/voice)")
    email: str | None = Field(None, title="E-mail address", max_length=200)


class BodyFormat(enum.StrEnum):
    JSON = "json"
    CAP = "cap"  # OASIS CAP 1.2 XML


class WebhookChannel(Strict):
    url: Annotated[str, StringConstraints(pattern=r"^https?://")] = Field(
        title="Webhook URL",
        description="POST target; signed the Standard Webhooks way (webhook-id, webhook-timestamp, "
                    "webhook-signature: HMAC-SHA256), see docs/opd-integration.md",
    )
    secret: Secret = Field(
        title="Shared secret for the signature (and for the OPD's callbacks)",
        description="Either whsec_<base64 key> (Standard Webhooks form) or any text, whose UTF-8 "
                    "bytes are then the key",
    )
    timeout_s: float = Field(10.0, gt=0, le=120, title="HTTP timeout, seconds",
                             description="How long one delivery may take before it is retried")
    format: BodyFormat = Field(
        BodyFormat.JSON, title="Body format: json or cap",
        description="json: the dispatch payload of docs/protocol.md; cap: an OASIS CAP 1.2 alert "
                    "(application/cap+xml), see docs/opd-integration.md",
    )


class EscalationChannel(enum.StrEnum):
    LOG = "log"
    WEBHOOK = "webhook"
    MQTT = "mqtt"


class EscalationLevel(Strict):
    """One rung of an OPD's escalation ladder."""

    after_min: float = Field(
        gt=0, title="Minutes after dispatch",
        description="The level fires when the OPD has not acknowledged (stage ack) or resolved "
                    "(stage resolve) this long after the case was dispatched to it")
    stage: Literal["ack", "resolve"] = Field(
        "ack", title="What the OPD has not done yet: ack or resolve",
        description="ack: the level fires only while the assignment is unacknowledged")
    channel: EscalationChannel = Field(
        EscalationChannel.LOG, title="How the level is raised: log, webhook or mqtt",
        description="log: a warning line and the timeline only; webhook: a signed POST to "
                    "'webhook'; mqtt: a QoS 1 message on siaga/v1/opd/{opd}/escalation")
    contacts: list[Contact] = Field(
        default_factory=list, title="Who this level reaches",
        description="e.g. the duty officer, the head of the OPD, the supervisor on duty")
    webhook: WebhookChannel | None = Field(None, title="Webhook for channel webhook",
                                           description="Required when channel is webhook")

    @model_validator(mode="after")
    def _webhook_given(self) -> EscalationLevel:
        if self.channel is EscalationChannel.WEBHOOK and self.webhook is None:
            raise ValueError("channel webhook needs a webhook")
        return self


class Channels(Strict):
    webhook: WebhookChannel | None = Field(None, title="Webhook (JSON POST, HMAC-signed)")
    mqtt_terminal: bool = Field(
        False, title="MQTT terminal", description="Publish on siaga/v1/opd/{opd}/dispatch (QoS 1)"
    )
    sms: list[Phone] = Field(
        default_factory=list, title="SMS numbers of duty phones",
        description="Each gets the dispatch by SMS through the centre's modem (site `sms` section; "
                    "without it they are only listed); replies TERIMA/TIBA/SELESAI/TOLAK <code> from "
                    "these numbers move the OPD's part of the case")


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
    escalation: list[EscalationLevel] = Field(
        default_factory=list, title="Escalation ladder (level 1 first)",
        description="Each level fires once per assignment, on one gateway instance; without a "
                    "ladder the site-wide escalation section applies once per SLA",
    )

    @model_validator(mode="after")
    def _ladder_climbs(self) -> OpdConfig:
        for stage in ("ack", "resolve"):
            delays = [lv.after_min for lv in self.escalation if lv.stage == stage]
            if delays != sorted(delays):
                raise ValueError(f"escalation levels of stage {stage} must have rising after_min")
        return self


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
    triage_min: float | None = Field(
        None, gt=0, title="Minutes a case may wait untriaged",
        description="A case still 'received' (no operator has triaged it) this long after it "
                    "arrived is escalated once to the contacts and webhook above",
    )


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
    queue_max: int = Field(20000, ge=100, title="In-process queue bound (messages), per worker")
    workers: int | None = Field(
        None, ge=1, le=8, title="Ingest workers (default: 2 on PostgreSQL, 1 on SQLite)",
        description="Threads that store batches side by side, each with its own connection; a "
                    "unit's messages always go to the same one (docs/gateway.md, Ingest)")
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
    rollup_refresh_s: float = Field(
        600.0, ge=0, le=86400, title="How often the KPI rollups are brought up to date",
        description="One instance rebuilds the days changed since (at most 14 per pass, never "
                    "waiting for the intake); dashboards read changed days from the raw rows until "
                    "then. 0: only after a dashboard read",
    )
    list_cache_s: float = Field(
        1.0, ge=0, le=30, title="Seconds one case list is shared by all consoles",
        description="GET /api/incidents answers the same question from one computation until this "
                    "instance writes anything or this many seconds pass (what another instance wrote "
                    "shows within this time; 0: query on every request)",
    )
    role_check_s: float = Field(
        2.0, gt=0, le=60, title="How often singleton roles are checked",
        description="The SLA watch and the fleet watch run on one instance of the site; a survivor "
                    "takes a dead holder's role within this many seconds (gateway.roles)",
    )
    instance_id: str | None = Field(None, title="Name of this instance (default: host-pid)")
    fleet_config: Path | None = Field(
        None, title="central.yaml of the site's fleet admin",
        description="When set, this gateway hosts the fleet wing (/api/devices/{id}/..., /api/fleet, "
                    "the fleet page's actions) with the sections of central.yaml it uses (broker, health, "
                    "notifier, command_timeout_s) and may run the fleet health watch: of the instances "
                    "that set it, one runs the watch (the fleet role, /readyz)",
    )


class SmsSettings(Strict):
    """The centre's modem: signed SMS from units, SMS reports from citizens."""

    modem: SmsModemSettings = Field(title="The centre's GSM modem",
                                    description="Port and AT dialect of the modem on the gateway host")
    master_key: Secret = Field(
        title="SMS master secret",
        description="Each unit's SMS key is HMAC-SHA256(master, 'siaga-sms-v1/' + device id); "
                    "`siaga admin` writes it into the unit's bundle",
    )
    window_s: int = Field(
        21600, ge=60, le=7 * 86400, title="Time window, seconds",
        description="A unit SMS whose (synced) creation time is further than this from the "
                    "gateway's clock is refused as stale",
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
    sla_good: float = Field(
        0.9, ge=0, le=1, title="SLA compliance shown green",
        description="Share of an OPD's cases within its SLA at or above which the dashboard and "
                    "the monthly report colour it green")
    sla_warn: float = Field(
        0.75, ge=0, le=1, title="SLA compliance shown amber",
        description="At or above this (below sla_good) amber; below it red")

    @model_validator(mode="after")
    def _warn_below_good(self) -> Site:
        if self.sla_warn > self.sla_good:
            raise ValueError("sla_warn must not be above sla_good")
        return self


class GatewayBrokerSettings(BrokerSettings):
    """The broker as the gateway uses it: a short session and keepalive, so a
    dead gateway's share of the shared subscription comes back quickly even
    when no peer takes its session over (docs/gateway.md, Several instances)."""

    keepalive_s: int = Field(
        5, ge=5, le=3600, title="MQTT keepalive, seconds",
        description="The broker declares a silent gateway (host down, cable cut) dead after 1.5 x this",
    )
    session_expiry_s: int = Field(
        10, ge=0, le=7 * 24 * 3600, title="MQTT 5 session expiry, seconds",
        description="How long the broker keeps queuing for a stopped gateway. Normally a peer takes "
                    "a dead gateway's session over at once; this bounds it when none can. A lone "
                    "gateway restarted within it gets the queue; after it, the units' re-send "
                    "brings the rest (within their ack_timeout_s + retry_max_s)",
    )


class SiteConfig(Strict):
    """The whole site file."""

    mode: Mode = Field(Mode.PRODUCTION, title="production or demo")
    site: Site = Field(title="The city: name, case number prefix, time zone")
    broker: GatewayBrokerSettings = Field(default_factory=GatewayBrokerSettings, title="MQTT broker")
    gateway: GatewaySettings = Field(default_factory=GatewaySettings,
                                     title="How this gateway process runs (not what the city is)")
    opds: list[OpdConfig] = Field(min_length=1, title="The city's OPDs")
    routing: Routing = Field(default_factory=Routing, title="Which OPDs get which cases, SLAs")
    escalation: Escalation = Field(default_factory=Escalation, title="Who is told when an SLA runs out")
    sms: SmsSettings | None = Field(
        None, title="Centre modem (SMS)",
        description="Signed SMS fallback from units and SMS reports from citizens; "
                    "absent: the gateway has no modem",
    )
    flags: FlagSettings = Field(default_factory=FlagSettings,
                                title="Flagged numbers: repeat prank/ghost callers")
    province: ProvinceSettings | None = Field(
        None, title="Province gateway: the cities whose cases it takes in",
        description="Absent (a city gateway): units' records on siaga/v1/dev/..., acked and dispatched "
                    "here. Present: records its cities' brokers bridge up on siaga/v1/city/<city>/dev/..., "
                    "stored with their city, never acked (the city does)")

    @model_validator(mode="after")
    def _cross_checks(self) -> SiteConfig:
        if self.province is not None:
            slugs = [c.slug for c in self.province.cities]
            dupes = sorted({c for c in slugs if slugs.count(c) > 1})
            if dupes:
                raise ValueError(f"province.cities: duplicate slug(s): {', '.join(dupes)}")
            if self.sms is not None:
                raise ValueError("province: no sms section (the cities' modems take their units' SMS)")
            if self.gateway.fleet_config is not None:
                raise ValueError("province: no gateway.fleet_config (each city manages its own fleet)")
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

    def city_name(self, slug: str | None) -> str | None:
        """A province's name for one of its cities (None: not a province, or unknown)."""
        if self.province is None or slug is None:
            return None
        return next((c.name for c in self.province.cities if c.slug == slug), None)

    def opd(self, opd_id: str) -> OpdConfig | None:
        return next((o for o in self.opds if o.id == opd_id), None)

    def secrets(self) -> dict[str, Secret]:
        """Every secret of the site by its key (``opds[2].channels.webhook.secret``)."""
        out: dict[str, Secret] = {}
        for i, o in enumerate(self.opds):
            if o.channels.webhook:
                out[f"opds[{i}].channels.webhook.secret"] = o.channels.webhook.secret
            if o.callback_token is not None:
                out[f"opds[{i}].callback_token"] = o.callback_token
            for n, lv in enumerate(o.escalation):
                if lv.webhook:
                    out[f"opds[{i}].escalation[{n}].webhook.secret"] = lv.webhook.secret
        if self.escalation.webhook:
            out["escalation.webhook.secret"] = self.escalation.webhook.secret
        if self.sms is not None:
            out["sms.master_key"] = self.sms.master_key
        return out

    def insecure_secrets(self, *, absent_ok: bool = False) -> list[str]:
        """Keys whose secret is missing, default or short. Refused outside demo.
        ``absent_ok``: a secret file that does not exist is not a problem here
        (``check-config`` away from the gateway host; see :meth:`absent_secrets`)."""
        bad: list[str] = []
        for key, secret in self.secrets().items():
            try:
                value = secret.resolve()
            except FileNotFoundError:
                if not absent_ok:
                    bad.append(f"{key}: cannot read secret file (No such file or directory)")
                continue
            except OSError as exc:
                bad.append(f"{key}: cannot read secret file ({exc.strerror})")
                continue
            if value.lower() in WEAK_SECRETS or len(value) < MIN_SECRET_LEN:
                bad.append(f"{key}: secret is empty, a default, or shorter than {MIN_SECRET_LEN}")
        if self.broker.username is None:
            bad.append("broker.username: anonymous broker access is only allowed in demo mode")
        else:
            try:
                pw = self.broker.resolve_password() or ""
            except FileNotFoundError:
                if not absent_ok:
                    bad.append("broker.password_file: cannot read (No such file or directory)")
            except OSError as exc:
                bad.append(f"broker.password_file: cannot read ({exc.strerror})")
            else:
                if pw.lower() in WEAK_SECRETS:
                    bad.append("broker.password: empty or a default")
        return bad

    def absent_secrets(self) -> list[str]:
        """``key: path`` of each secret file that does not exist (yet)."""
        files = {k: s.file for k, s in self.secrets().items() if s.file is not None}
        if self.broker.username is not None and self.broker.password_file is not None:
            files["broker.password_file"] = self.broker.password_file
        return [f"{k}: {p}" for k, p in files.items() if not p.exists()]
