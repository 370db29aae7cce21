r"""The published JSON Schema (``siaga protocol schema``) and the models
agree: payloads generated from the schema are accepted by the decoder, and
for payloads near the schema's edges (a field changed to an odd value,
dropped, or added) the decoder accepts exactly those the schema accepts.

JSON Schema's regexes are ECMA-262, where ``$`` never matches before a
final newline; Python's ``re`` (used by ``jsonschema``) lets it. The
validator here uses the ECMA meaning, as a client in any other language
would (and its ``\d`` means ASCII digits only). Integers are JSON integers
(``42``, not ``42.0``), also in the checker.
"""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import PayloadError
from protocol.codec import ALL_MODELS, decode
from protocol.schema import all_schemas
from tests.protocol.schema_strategy import from_schema

SCHEMAS = all_schemas()
NAMES = sorted(SCHEMAS)
STRATEGIES = {name: from_schema(schema) for name, schema in SCHEMAS.items()}


def _ecma_pattern(_validator, pattern, instance, _schema):
    ecma = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
    if isinstance(instance, str) and not re.search(ecma, instance, re.ASCII):  # ECMA \d is ASCII
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


_types = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
    "integer", lambda _c, v: isinstance(v, int) and not isinstance(v, bool))
Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator,
                                         validators={"pattern": _ecma_pattern}, type_checker=_types)


def schema_accepts(name: str, payload: object) -> bool:
    return Validator(SCHEMAS[name]).is_valid(payload)


def model_accepts(name: str, payload: object) -> bool:
    try:
        decode(ALL_MODELS[name], json.dumps(payload, ensure_ascii=False))
    except PayloadError:
        return False
    return True


def test_the_checker_means_ecma_dollar():
    assert not schema_accepts("Status", {"v": 1, "device": "box-1\n", "state": "online"})
    assert schema_accepts("Status", {"v": 1, "device": "box-1", "state": "online"})


def test_schema_requires_ids():
    for name in ("Incident", "CallRecord", "Telemetry", "CommandResult", "Command", "Dispatch"):
        assert "id" in SCHEMAS[name]["required"], name


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_schema_valid_payloads_are_accepted(name, data):
    payload = data.draw(STRATEGIES[name])
    # the generator may be looser than the schema: the schema is the judge
    if schema_accepts(name, payload):
        assert model_accepts(name, payload), payload


ODD = st.one_of(
    st.sampled_from([True, False, 0, 1, -1, 1.5, 42.0, "42", "1.5", "", " box-1", "box-1\n", None, [],
                     {}, 2**53, 2**53 + 1, 1e9, 1e10, "2026-11-23", "2026-11-23T03:00:00",
                     "2026-11-23T03:00:00Z", "2026-11-23T03:00:00+07:00", "2026-11-23 03:00:00Z",
                     "1969-12-31T23:59:59Z", "2100-01-01T00:00:00Z", 1_700_000_000, "\u0000",
                     "01KAQ3Z8R6V4YJ1M5T2C9WXN7B", "fire", "online", "ok", "incoming", "x" * 201]),
    st.integers(min_value=-(2**60), max_value=2**60), st.text(max_size=30),
)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_near_misses_are_judged_alike(name, data):
    payload = data.draw(STRATEGIES[name])
    if not isinstance(payload, dict) or not schema_accepts(name, payload):
        return
    keys = [*payload, *SCHEMAS[name].get("properties", {}), "extra"]
    key = data.draw(st.sampled_from(keys))
    if data.draw(st.booleans()) and key in payload:
        del payload[key]
    else:
        payload[key] = data.draw(ODD)
    assert model_accepts(name, payload) == schema_accepts(name, payload), payload
