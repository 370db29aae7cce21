"""Hostile payloads from issue 21: every decoder answers with a named
rejection, never another exception, and nothing coerced gets through."""

from __future__ import annotations

import codecs
import json
from datetime import UTC

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import PayloadError
from protocol.codec import MODELS, decode, decode_device_message, encode, parse_json, peek
from protocol.reports import Incident
from protocol.topics import DeviceTopic
from tests.protocol.test_models import SAMPLES

#: every reason a decoder may give; "undecodable" (an unexpected exception
#: turned into a rejection) is deliberately not in it: none of these inputs
#: may reach that last resort
REASONS = {"too_large", "too_deep", "malformed_json", "non_finite", "out_of_range", "invalid",
           "missing_id", "device_mismatch"}
KINDS = list(DeviceTopic)


def sample(kind: DeviceTopic) -> dict:
    return json.loads(encode(SAMPLES[kind]))


def reason_of(model, payload) -> str | None:
    """None when accepted; else the rejection's reason (any other exception fails the test)."""
    try:
        msg = decode(model, payload)
    except PayloadError as exc:
        return exc.reason
    # an accepted message must survive what receivers do with it
    encode(msg)
    for name in type(msg).model_fields:
        value = getattr(msg, name)
        if hasattr(value, "astimezone"):
            value.astimezone(UTC)
    return None


# -- the payloads named in the issue -------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_20kb_nesting_is_rejected_as_too_deep(kind):
    assert reason_of(MODELS[kind], b"[" * 10_000 + b"]" * 10_000) == "too_deep"
    nested = b'{"v":1,"x":' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    assert reason_of(MODELS[kind], nested) == "too_deep"


def test_size_is_checked_before_parsing():
    # 80 KB of nesting: too large, and never parsed (that would recurse)
    assert reason_of(Incident, b"[" * 40_000 + b"]" * 40_000) == "too_large"


def test_brackets_inside_strings_are_not_nesting():
    data = sample(DeviceTopic.INCIDENT)
    data["description"] = "[" * 1500 + "{" * 400
    assert reason_of(Incident, json.dumps(data)) is None


@pytest.mark.parametrize(("field", "value"), [
    ("clock_synced", 0), ("clock_synced", "true"), ("seq", True), ("v", True), ("seq", "42"),
    ("seq", 42.0), ("uptime_ms", "1.5"), ("device_time", 1_700_000_000), ("device_time", -1),
    ("device_time", "1.5"), ("device_time", "2026-11-23"), ("device_time", "2026-11-23T03:00:00"),
    ("device_time", "03:00:00+07:00"), ("device_time", "2026-02-30T03:00:00Z"),
    ("device", 42), ("description", 5), ("category", 1),
])
def test_coerced_values_are_refused(field, value):
    data = sample(DeviceTopic.INCIDENT)
    data[field] = value
    assert reason_of(Incident, json.dumps(data)) == "invalid", (field, value)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le",
                                      "utf-32-be", "utf-8-sig"])
@pytest.mark.parametrize("kind", KINDS)
def test_only_utf8_without_bom(kind, encoding):
    text = json.dumps(sample(kind))
    assert reason_of(MODELS[kind], text.encode(encoding)) == "malformed_json"
    assert reason_of(MODELS[kind], text.encode()) is None


@pytest.mark.parametrize("constant", ["Infinity", "-Infinity", "NaN"])
def test_non_finite_numbers_are_refused(constant):
    raw = json.dumps(sample(DeviceTopic.TELEMETRY)).replace('"outbox_depth":2', f'"outbox_depth":{constant}')
    raw = raw.replace('"outbox_depth": 2', f'"outbox_depth": {constant}')
    assert constant in raw
    assert reason_of(MODELS[DeviceTopic.TELEMETRY], raw) == "non_finite"


@pytest.mark.parametrize("literal", ["1e400", "-1e400", "9" * 4301, "1" + "0" * 40])
def test_numbers_beyond_a_double_are_out_of_range(literal):
    raw = json.dumps(sample(DeviceTopic.CMD_RES)).replace('"result": {"ok": true}',
                                                          f'"result": {{"n": {literal}}}')
    assert literal in raw
    assert reason_of(MODELS[DeviceTopic.CMD_RES], raw) == "out_of_range"


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                  "1969-12-31T23:59:59Z", "2100-01-01T00:00:00Z"])
def test_extreme_dates_get_a_named_rejection(when):
    data = sample(DeviceTopic.INCIDENT)
    data["device_time"] = when
    assert reason_of(Incident, json.dumps(data)) == "invalid"


@pytest.mark.parametrize("when", ["1970-01-01T00:00:00+14:00", "2099-12-31T23:59:59.999999-14:00",
                                  "2028-02-29T12:00:00Z", "2026-11-23T10:00:00+07:00"])
def test_dates_in_range_are_accepted(when):
    data = sample(DeviceTopic.INCIDENT)
    data["device_time"] = when
    assert reason_of(Incident, json.dumps(data)) is None


def test_integers_are_bounded_to_their_meaning():
    data = sample(DeviceTopic.TELEMETRY)
    data["uptime_s"] = 2**53 + 1
    assert reason_of(MODELS[DeviceTopic.TELEMETRY], json.dumps(data)) == "invalid"


def test_peek_and_parse_never_raise_other_errors():
    assert peek(b"[" * 10_000 + b"]" * 10_000, "id") is None
    assert peek("\ud800", "id") is None
    assert peek(b'{"id": "X"}', "id") == "X"
    with pytest.raises(PayloadError):
        parse_json(b"\xef\xbb\xbf{}")


# -- id required (issue 11, item 2) --------------------------------------

@pytest.mark.parametrize("kind", [DeviceTopic.INCIDENT, DeviceTopic.CALL, DeviceTopic.TELEMETRY,
                                  DeviceTopic.CMD_RES, DeviceTopic.CMD])
def test_an_id_less_record_is_refused(kind):
    data = sample(kind)
    del data["id"]
    assert reason_of(MODELS[kind], json.dumps(data)) == "missing_id"


def test_code_building_a_record_still_gets_an_id():
    inc = Incident(device="box-1", seq=1, category="fire", source="field_button")
    assert len(inc.id) == 26


# -- fuzzing every topic's decoder ---------------------------------------

EXTREME = st.one_of(
    st.integers(), st.integers(min_value=-(10**60), max_value=10**60), st.floats(), st.booleans(),
    st.none(), st.text(max_size=50), st.sampled_from([
        "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-11-23", "03:00",
        "2026-11-23T03:00:00", "1700000000", "\u0000", "1.5", "", "NaN", 2**53 + 1, -(2**63), 1e308,
        -0.0, 5e-324, [], {}, [[[[[]]]]],
    ]),
)


@st.composite
def hostile(draw, kind: DeviceTopic) -> bytes:
    base = sample(kind)
    way = draw(st.sampled_from(["mutate", "nest", "encode", "truncate", "bytes", "number", "drop"]))
    if way == "mutate":
        key = draw(st.sampled_from([*base, "extra"]))
        base[key] = draw(EXTREME)
        return json.dumps(base).encode()
    if way == "nest":
        n = draw(st.integers(min_value=1, max_value=30_000))
        open_, close = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ("[{\"a\":", "}]")]))
        key = draw(st.sampled_from(list(base)))
        raw = json.dumps(base).replace(f'"{key}": ', f'"{key}": {open_ * n}', 1)
        return (raw[:-1] + close * n + "}").encode()
    if way == "encode":
        enc = draw(st.sampled_from(["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le",
                                    "utf-32-be", "utf-8-sig", "latin-1", "cp1252"]))
        base["description" if "description" in base else "v"] = draw(st.text(max_size=20))
        return json.dumps(base, ensure_ascii=False).encode(enc, errors="replace")
    if way == "truncate":
        raw = encode(SAMPLES[kind])
        return raw[: draw(st.integers(min_value=0, max_value=len(raw) - 1))]
    if way == "number":
        key = draw(st.sampled_from(list(base)))
        literal = draw(st.sampled_from(["Infinity", "-Infinity", "NaN", "1e400", "-1e-400", "9" * 5000,
                                        "1.7976931348623157e309", "-0", "1E+2"]))
        return json.dumps(base).replace(f'"{key}": ', f'"{key}": {literal}, "x{key}": ', 1).encode()
    if way == "drop":
        key = draw(st.sampled_from(list(base)))
        del base[key]
        return json.dumps(base).encode()
    return draw(st.binary(max_size=300))


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_every_decoder(kind, data):
    payload = data.draw(hostile(kind))
    reason = reason_of(MODELS[kind], payload)
    assert reason is None or reason in REASONS, reason
    if kind is not DeviceTopic.ACK and kind is not DeviceTopic.CMD and kind is not DeviceTopic.CONFIG_DESIRED:
        topic = f"siaga/v1/dev/box-1/{kind.value}"
        try:
            decode_device_message(topic, payload)
        except PayloadError as exc:
            assert exc.reason in REASONS


def test_bom_list_covers_utf32():
    # UTF-32 LE's BOM starts with UTF-16 LE's; UTF-32 BE's has NULs, not UTF-8 JSON either way
    assert codecs.BOM_UTF32_LE.startswith(codecs.BOM_UTF16_LE)
    assert reason_of(Incident, codecs.BOM_UTF32_BE + b"{}") == "malformed_json"
