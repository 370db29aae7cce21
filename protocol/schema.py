"""JSON Schema of every payload, for docs and for other implementations."""

from __future__ import annotations

from typing import Any

from protocol.codec import ALL_MODELS


def all_schemas() -> dict[str, Any]:
    """``{model name: JSON Schema}`` for every payload of protocol v1."""
    return {name: model.model_json_schema() for name, model in ALL_MODELS.items()}
