"""The JSON API's documentation: the OpenAPI schema and a page that shows it, for logged-in users only.

FastAPI's Swagger UI loads its script and styles from a CDN, which the
Content-Security-Policy (this origin only) blocks and which an offline site
cannot reach. So the page is rendered here, on the server, from the same
OpenAPI schema (operations, parameters, bodies, responses and the schemas they
name), and the schema itself is served as JSON for tools that read OpenAPI.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from qiloop.labeling.api.deps import Principal, any_user
from qiloop.labeling.api.pages import render

router = APIRouter(include_in_schema=False)
METHODS = ("get", "post", "put", "patch", "delete")


@router.get("/api/v1/openapi.json")
def openapi(request: Request, who: Principal = Depends(any_user)) -> JSONResponse:
    """The OpenAPI schema of the JSON API."""
    return JSONResponse(request.app.openapi())


@router.get("/docs")
def docs(request: Request, who: Principal = Depends(any_user)) -> Response:
    """The JSON API's operations by tag, with their parameters, bodies, responses and schemas."""
    schema = request.app.openapi()
    operations = [
        _operation(path, method, op) for path, item in schema.get("paths", {}).items()
        for method, op in item.items() if method in METHODS
    ]  # fmt: skip
    tags: dict[str, list[dict]] = {}
    for op in operations:
        tags.setdefault(op["tag"], []).append(op)
    models = {name: _model(body) for name, body in sorted(schema.get("components", {}).get("schemas", {}).items())}
    return render(request, "api_docs.html", info=schema.get("info", {}), tags=tags, models=models)


def _operation(path: str, method: str, op: dict) -> dict:
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    return {
        "anchor": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", ""),
        "method": method.upper(),
        "path": path,
        "tag": (op.get("tags") or ["other"])[0],
        "summary": op.get("summary", ""),
        "description": op.get("description", ""),
        "parameters": [
            {"name": p["name"], "in": p["in"], "required": p.get("required", False), "type": _type(p.get("schema", {}))}
            for p in op.get("parameters", [])
        ],
        "body": None if body is None else _type(body),
        "responses": [(code, r.get("description", "")) for code, r in op.get("responses", {}).items()],
    }


def _model(body: dict) -> dict:
    required = set(body.get("required", []))
    return {
        "description": body.get("description", ""),
        "fields": [
            {"name": name, "type": _type(prop), "required": name in required, "about": prop.get("description", "")}
            for name, prop in body.get("properties", {}).items()
        ],
    }


def _type(schema: dict) -> str:
    """A schema as a short type: ``Box``, ``list[Box]``, ``integer``, ``string | null``."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list[{_type(schema.get('items', {}))}]"
    if schema.get("type") == "object" and "additionalProperties" in schema:
        return f"dict[string, {_type(schema['additionalProperties'])}]"
    return schema.get("type", "any")
