"""Checking requests against GitHub's REST API description (an OpenAPI 3.0 document).

For each request: the method and path must name an operation; path and query
parameters must fit their schemas (unknown query parameters are reported too);
the JSON body must validate against the operation's request body schema.
`$ref`s are resolved against the whole document, so a description that was
not dereferenced works as well as the dereferenced subset tickborg ships with.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import attrs
from openapi_schema_validator import OAS30WriteValidator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tickborg.fakegithub.routing import PathTemplate

_DOC_URI = "urn:tickborg:github-api"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_JSON = "application/json"
PACKAGED = "data/openapi-subset.json"


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


@attrs.frozen
class Parameter:
    name: str
    location: str  # path | query | header
    required: bool
    schema: Mapping[str, Any]  # to coerce the string from the URL before validating
    validator: Any


@attrs.frozen
class Operation:
    method: str
    template: PathTemplate
    operation_id: str
    parameters: tuple[Parameter, ...]
    body_required: bool
    body_validator: Any | None

    def check(self, params: Mapping[str, str], query: Mapping[str, list[str]], body: bytes) -> list[str]:
        where = f"{self.method} {self.template.template} ({self.operation_id})"
        problems = [*self._check_parameters(params, query), *self._check_body(body)]
        return [f"{where}: {problem}" for problem in problems]

    def _check_parameters(self, params: Mapping[str, str], query: Mapping[str, list[str]]) -> list[str]:
        problems = []
        known_query = {p.name for p in self.parameters if p.location == "query"}
        problems += [f"unknown query parameter {name!r}" for name in query if name not in known_query]
        for parameter in self.parameters:
            if parameter.location == "path":
                values = [params[parameter.name]] if parameter.name in params else []
            elif parameter.location == "query":
                values = query.get(parameter.name, [])
            else:
                continue
            if not values and parameter.required:
                problems.append(f"missing {parameter.location} parameter {parameter.name!r}")
            for value in values:
                problems += [
                    f"{parameter.location} parameter {parameter.name!r}: {error.message}"
                    for error in parameter.validator.iter_errors(_coerce(value, parameter.schema))
                ]
        return problems

    def _check_body(self, body: bytes) -> list[str]:
        if not body:
            return ["request body required"] if self.body_required else []
        if self.body_validator is None:
            return ["this operation takes no request body"]
        try:
            document = json.loads(body)
        except ValueError:
            return ["request body is not JSON"]
        return [
            f"body{_json_path(error.absolute_path)}: {error.message}"
            for error in self.body_validator.iter_errors(document)
        ]


def _json_path(parts: Any) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)


def _coerce(text: str, schema: Mapping[str, Any]) -> Any:
    """A query/path string as the type its schema wants, or unchanged to fail validation."""
    kind = schema.get("type")
    if kind == "integer" and text.lstrip("-").isdigit():
        return int(text)
    if kind == "boolean" and text in ("true", "false"):
        return text == "true"
    return text


class ApiDescription:
    def __init__(self, document: Mapping[str, Any]) -> None:
        version = str(document.get("openapi", ""))
        if not version.startswith("3.0"):
            raise ValueError(f"expected an OpenAPI 3.0 description, got openapi {version!r}")
        self._registry = Registry().with_resource(
            _DOC_URI, Resource.from_contents(document, default_specification=DRAFT4)
        )
        self.operations = tuple(
            self._operation(path, method, operation, _pointer("paths", path, method))
            for path, item in document.get("paths", {}).items()
            for method, operation in item.items()
            if method in _METHODS
        )

    @classmethod
    def load(cls, path: Path) -> ApiDescription:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def packaged(cls) -> ApiDescription:
        """The subset of GitHub's description shipped as package data (see data/README.md)."""
        text = resources.files("tickborg.fakegithub").joinpath(PACKAGED).read_text(encoding="utf-8")
        return cls(json.loads(text))

    def _follow(self, node: Mapping[str, Any], pointer: str) -> tuple[Mapping[str, Any], str]:
        """A parameter or request body followed through `$ref`s, with its JSON pointer."""
        while "$ref" in node:
            reference = node["$ref"]
            node = self._registry.resolver().lookup(f"{_DOC_URI}{reference}").contents
            pointer = reference.removeprefix("#/")
        return node, pointer

    def _validator(self, pointer: str) -> Any:
        # A reference into the registered document, so `$ref`s inside the schema resolve.
        reference = {"$ref": f"{_DOC_URI}#/{pointer}"}
        return OAS30WriteValidator(
            reference, registry=self._registry, format_checker=oas30_format_checker
        )

    def _operation(
        self, path: str, method: str, operation: Mapping[str, Any], pointer: str
    ) -> Operation:
        parameters = []
        for index, raw in enumerate(operation.get("parameters", ())):
            parameter, at = self._follow(raw, f"{pointer}/parameters/{index}")
            parameters.append(
                Parameter(
                    name=parameter["name"],
                    location=parameter["in"],
                    required=bool(parameter.get("required", parameter["in"] == "path")),
                    schema=parameter.get("schema", {}),
                    validator=self._validator(f"{at}/schema"),
                )
            )
        body, at = self._follow(operation.get("requestBody", {}), f"{pointer}/requestBody")
        return Operation(
            method=method.upper(),
            template=PathTemplate.parse(path),
            operation_id=operation.get("operationId", ""),
            parameters=tuple(parameters),
            body_required=bool(body.get("required", False)),
            body_validator=(
                self._validator(f"{at}/content/{_pointer(_JSON)}/schema")
                if _JSON in body.get("content", {})
                else None
            ),
        )

    def check(self, method: str, path: str, query: Mapping[str, list[str]], body: bytes) -> list[str]:
        """Every way the request departs from the description (empty when it is valid)."""
        for operation in self.operations:
            params = operation.template.match(path)
            if params is not None and operation.method == method:
                return operation.check(params, query, body)
        return [f"{method} {path}: no such operation in the API description"]
