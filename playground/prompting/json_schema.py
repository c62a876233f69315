"""Does a JSON value satisfy a JSON schema? The keywords structured output uses, checked without a grammar.

The check is deliberately separate from the grammar engine that constrained the output: a test that
asked llguidance whether llguidance's output fits would prove nothing. It covers the common keywords
(type, enum, const, properties, required, additionalProperties, items, lengths, bounds, pattern,
anyOf/oneOf/allOf); any other keyword (``$ref``, ``format``...) is reported as not checked rather than
passed silently.
"""

from __future__ import annotations

import math
import re
from typing import Any

CHECKED = {"type", "enum", "const", "properties", "required", "additionalProperties", "items", "minItems",
           "maxItems", "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
           "pattern", "anyOf", "oneOf", "allOf", "title", "description", "default", "examples", "$schema",
           "multipleOf", "uniqueItems", "minProperties", "maxProperties"}

TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and math.isfinite(v) and v.is_integer()),
}


def unchecked_keywords(schema: Any) -> set[str]:
    """Keywords anywhere in ``schema`` that :func:`schema_errors` does not check."""
    found: set[str] = set()
    if isinstance(schema, dict):
        found |= set(schema) - CHECKED
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                for sub in value.values():
                    found |= unchecked_keywords(sub)
            elif key in ("items", "additionalProperties"):
                found |= unchecked_keywords(value)
            elif key in ("anyOf", "oneOf", "allOf") and isinstance(value, list):
                for sub in value:
                    found |= unchecked_keywords(sub)
    return found


def schema_errors(value: Any, schema: Any, path: str = "$") -> list[str]:
    """Why ``value`` breaks ``schema`` (empty: it satisfies every checked keyword)."""
    if schema is True or schema == {}:
        return []
    if schema is False:
        return [f"{path}: nothing is allowed here"]
    if not isinstance(schema, dict):
        return []
    errors: list[str] = []
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(TYPES.get(k, lambda _v: True)(value) for k in kinds):
            return [f"{path}: expected {' or '.join(map(str, kinds))}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']!r}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: {value!r} is not {schema['const']!r}")
    errors += _object_errors(value, schema, path) + _array_errors(value, schema, path)
    errors += _scalar_errors(value, schema, path) + _combined_errors(value, schema, path)
    return errors


def _object_errors(value: Any, schema: dict, path: str) -> list[str]:
    if not isinstance(value, dict):
        return []
    properties = schema.get("properties", {}) or {}
    errors = [f"{path}: missing required '{name}'" for name in schema.get("required", []) if name not in value]
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            errors += schema_errors(item, properties[name], f"{path}.{name}")
        elif extra is False:
            errors.append(f"{path}: '{name}' is not allowed (additionalProperties is false)")
        elif isinstance(extra, dict):
            errors += schema_errors(item, extra, f"{path}.{name}")
    return errors


def _array_errors(value: Any, schema: dict, path: str) -> list[str]:
    if not isinstance(value, list):
        return []
    errors = []
    if "minItems" in schema and len(value) < schema["minItems"]:
        errors.append(f"{path}: {len(value)} items, at least {schema['minItems']} expected")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        errors.append(f"{path}: {len(value)} items, at most {schema['maxItems']} expected")
    if isinstance(schema.get("items"), (dict, bool)):
        for index, item in enumerate(value):
            errors += schema_errors(item, schema["items"], f"{path}[{index}]")
    return errors


def _scalar_errors(value: Any, schema: dict, path: str) -> list[str]:
    errors = []
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{path}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: longer than {schema['maxLength']} characters")
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            errors.append(f"{path}: does not match /{schema['pattern']}/")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        for key, broken in (("minimum", lambda b: value < b), ("maximum", lambda b: value > b),
                            ("exclusiveMinimum", lambda b: value <= b), ("exclusiveMaximum", lambda b: value >= b)):
            if isinstance(schema.get(key), (int, float)) and broken(schema[key]):
                errors.append(f"{path}: {value} breaks {key} {schema[key]}")
    return errors


def _combined_errors(value: Any, schema: dict, path: str) -> list[str]:
    errors = []
    for sub in schema.get("allOf", []):
        errors += schema_errors(value, sub, path)
    if "anyOf" in schema and all(schema_errors(value, sub, path) for sub in schema["anyOf"]):
        errors.append(f"{path}: matches none of anyOf")
    if "oneOf" in schema and sum(not schema_errors(value, sub, path) for sub in schema["oneOf"]) != 1:
        errors.append(f"{path}: does not match exactly one of oneOf")
    return errors
