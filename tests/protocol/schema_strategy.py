"""Hypothesis strategies from a JSON Schema: the subset pydantic emits for
the protocol (objects, anyOf, $ref, enum/const, bounded numbers, strings
with pattern and length, arrays, maps, any value).

Why not hypothesis-jsonschema: its last release (0.23.1) uses Hypothesis
internals that Hypothesis 6.170 no longer has. Generation may be looser
than the schema (``if``/``then``, odd corners); the tests keep only what a
JSON Schema validator accepts, so the schema stays the judge.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

NO_NUL = r"^[^\x00]*$"

#: any JSON value (for ``dict[str, Any]`` fields), shallow and finite
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def from_schema(schema: dict[str, Any], root: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    root = root if root is not None else schema
    if schema is True or schema == {}:
        return ANY_JSON
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return from_schema(root["$defs"][name], root)
    if "anyOf" in schema:
        return st.one_of([from_schema(s, root) for s in schema["anyOf"]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        return _object(schema, root)
    if kind == "array":
        items = from_schema(schema.get("items", {}), root)
        return st.lists(items, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 5), 5))
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum"))
    if kind == "number":
        lo, hi = schema.get("minimum"), schema.get("maximum")
        return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False) | st.integers(
            min_value=None if lo is None else int(lo) + (lo % 1 > 0),
            max_value=None if hi is None else int(hi))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    raise NotImplementedError(f"schema construct not covered: {schema}")


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    lo, hi = schema.get("minLength", 0), schema.get("maxLength")
    pattern = schema.get("pattern")
    if pattern is None or pattern == NO_NUL:
        alphabet = st.characters(codec="utf-8", exclude_characters="\x00" if pattern else "")
        return st.text(alphabet, min_size=lo, max_size=hi if hi is not None else 50)
    return st.from_regex(pattern, fullmatch=True).filter(lambda s: lo <= len(s) <= (hi or len(s)))


def _object(schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    props = schema.get("properties")
    if props is None:  # a map
        if "patternProperties" in schema:
            ((pattern, value),) = schema["patternProperties"].items()
            keys: st.SearchStrategy[str] = st.from_regex(pattern, fullmatch=True)
        else:
            names = schema.get("propertyNames", {})
            keys = st.text(max_size=names.get("maxLength", 20))
            value = schema.get("additionalProperties", {})
        most = min(schema.get("maxProperties", 4), 4)
        return st.dictionaries(keys, from_schema(value, root), max_size=most)
    required = set(schema.get("required", []))
    subs = {name: from_schema(sub, root) for name, sub in props.items()}
    return st.fixed_dictionaries({k: v for k, v in subs.items() if k in required},
                                 optional={k: v for k, v in subs.items() if k not in required})
