"""Typed request models and OpenAPI schemas of ``runner serve``, built from the run's
signature (documentation: the endpoints check bodies themselves, off the event loop)."""

from __future__ import annotations

from typing import Any, Literal

from kampai.plugins.serve.model import ROW_KINDS, ServedModel, json_type
from kampai.plugins.serve.payloads import MAX_HORIZON


def record_model(model: ServedModel) -> Any:
    """The documented type of one row (OpenAPI): what :meth:`ServedModel.check_rows` accepts."""
    from typing import Annotated

    from pydantic import ConfigDict, Field, create_model

    fields: dict[str, Any] = {}
    for col in model.inputs:
        kind = json_type(col.get("dtype", "object"))
        typ: Any = {"integer": int, "number": float, "boolean": bool}.get(kind, str)
        if kind == "integer":  # the column's dtype range: values outside it are a 400
            import numpy as np

            info = np.iinfo(str(col.get("dtype")))
            typ = Annotated[int, Field(ge=int(info.min), le=int(info.max))]
        if col.get("categories"):
            typ = Literal[tuple(col["categories"])]  # type: ignore[valid-type]
        if col.get("nullable"):
            typ = typ | None
        fields[_field_name(col["name"])] = (typ, Field(..., alias=col["name"],
                                                       description=str(col.get("dtype", "object"))))
    return create_model("Record", __config__=ConfigDict(extra="forbid", populate_by_name=False, strict=True),
                        **fields)


def _field_name(name: str) -> str:
    safe = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return f"f_{safe}" if not safe or safe[0].isdigit() or safe.startswith("_") else safe


def request_model(model: ServedModel) -> Any:
    from pydantic import ConfigDict, Field, create_model

    extra: dict[str, Any] = {}
    if model.kind in ROW_KINDS and model.inputs:
        row = record_model(model)
        required = not model.takes_options
        extra["records"] = (list[row] if required else list[row] | None,  # type: ignore[valid-type]
                            Field(... if required else None, min_length=1 if required else None,
                                  description="rows of the model's inputs"))
    else:
        extra["records"] = (list[dict[str, Any]] | None, Field(None, description="forecasting: new history "
                                                               "rows (time, targets, series id, covariates)"))
    if model.ahead:
        extra["horizon"] = (int | None, Field(None, ge=1, le=MAX_HORIZON, description="steps ahead"))
    extra["options"] = (dict[str, Any], Field(default_factory=dict, description="the task's predict options "
                                              "(e.g. k, users)"))
    return create_model("PredictRequest", __config__=ConfigDict(extra="forbid"), **extra)


def document_predict(app: Any, predict_model: Any) -> None:
    """``/predict`` reads its body itself (off the event loop, strict types); its request
    schema, generated from the signature, still goes into ``/openapi.json``."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()
            schema = predict_model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(schema.pop("$defs", {}))
            schemas["PredictRequest"] = schema
        return app.openapi_schema

    app.openapi = openapi


def invocation_schema(model: ServedModel) -> dict[str, Any]:
    props = {}
    for col in model.inputs:
        prop: dict[str, Any] = {"type": json_type(col.get("dtype", "object"))}
        if col.get("categories"):
            prop["enum"] = col["categories"]
        props[col["name"]] = prop
    record = {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}
    return {"type": "object", "description": "exactly one of dataframe_split, dataframe_records, instances, "
            "inputs; optional params (horizon, the task's predict options)",
            "properties": {
                "dataframe_split": {"type": "object", "properties": {
                    "columns": {"type": "array", "items": {"type": "string", "enum": list(props) or None}},
                    "data": {"type": "array", "items": {"type": "array"}}}},
                "dataframe_records": {"type": "array", "items": record},
                "instances": {"type": "array", "items": record},
                "inputs": {"oneOf": [{"type": "array", "items": record}, {"type": "object"}]},
                "params": {"type": "object"}},
            "example": {"dataframe_records": model.example_records()} if model.inputs else {"params": {}}}
