"""A lean request pipeline for the hot paths' routes, on FastAPI's public extension point
(`APIRoute.get_route_handler`) and pydantic's public API.

FastAPI's generic handler (dependency graph solving, exit stacks per dependency, telemetry
hooks) costs a large share of a hot request's CPU (see bench/). The hot routes have one fixed
shape, the request transaction (`TransactionDep`) plus scalar path and query parameters, at
most one JSON body and optionally the `Response`, so `DriverRoute` serves them in a straight
line while keeping FastAPI's contract: the route is declared, documented and matched like any
other; its parameters are validated by pydantic `TypeAdapter`s built at start-up from the
endpoint's own annotations, with FastAPI's error shape (`loc` = `["path"|"query"|"body",
...]`); its response by a `TypeAdapter` of the response model. Every 401/422/2xx answer is
the one the generic handler gives (`tests/api/test_driver_route.py` compares them).

The dependencies that run are the ones the endpoint declares (`get_claims`, then
`get_transaction`), called in a straight line. One deliberate difference: the token is
checked, then the parameters, and only then is the transaction opened, so a request that is
not valid costs no database round trip. When the app overrides any dependency
(`app.dependency_overrides`), requests go through FastAPI's own handler, which honours them.
Route options this pipeline would not apply (`response_model_exclude*`, route dependencies,
another response class, ...) fail at start-up instead of being ignored.
"""

from __future__ import annotations

import email.message
import inspect
import json
import typing
import warnings
from collections.abc import Callable, Coroutine, Mapping
from contextlib import asynccontextmanager
from copy import deepcopy
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import params
from fastapi.datastructures import DefaultPlaceholder
from fastapi.exceptions import HTTPException, RequestValidationError, ResponseValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import PydanticUndefined
from starlette.requests import Request
from starlette.responses import Response

from app.api.deps import bearer, get_claims, get_transaction

# The one dependency a hot endpoint declares, run as FastAPI would run it.
_open_transaction = asynccontextmanager(get_transaction)


class DriverRoute(APIRoute):
    """A route whose endpoint takes the request transaction (`TransactionDep`), scalar path
    parameters, optional scalar query parameters, at most one JSON body and optionally the
    `Response`; nothing else (a route of another shape fails at start-up instead of losing a
    dependency)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.shape = _EndpointShape.of(self)
        if self.response_model is None:
            raise TypeError(f"{self.path}: a DriverRoute needs a response_model")
        self.response_adapter: TypeAdapter[Any] = TypeAdapter(self.response_model)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        generic = super().get_route_handler()

        async def handle(request: Request) -> Response:
            if getattr(request.app, "dependency_overrides", None):
                return await generic(request)
            return await self.serve(request)

        return handle

    async def serve(self, request: Request) -> Response:
        claims = await get_claims(request, await bearer(request))
        shape = self.shape
        body = await _json_body(request) if shape.body is not None else PydanticUndefined
        values = shape.arguments(request, body)
        # What the endpoint sets on it (a status, headers) goes into the answer, as FastAPI
        # does; made only for an endpoint that takes it (the PUT, for its 201).
        sub_response = None
        if shape.response_name is not None:
            sub_response = Response()
            del sub_response.headers["content-length"]
            sub_response.status_code = None  # type: ignore[assignment]
            values[shape.response_name] = sub_response
        async with _open_transaction(request, claims) as transaction:
            values[shape.transaction_name] = transaction
            result = await self.endpoint(**values)
        # Committed: the answer is built only for work that is durable.
        content = self._serialized(result)
        status_code = sub_response.status_code if sub_response is not None else None
        response = Response(
            content,
            status_code=status_code or self.status_code or 200,
            media_type="application/json",
        )
        if sub_response is not None:
            response.headers.raw.extend(sub_response.headers.raw)
        return response

    def _serialized(self, result: Any) -> bytes:
        try:
            value = self.response_adapter.validate_python(result, from_attributes=True)
        except ValidationError as error:
            raise ResponseValidationError(_errors_at(error, ("response",)), body=result) from None
        return self.response_adapter.dump_json(value, by_alias=True)


@dataclass(frozen=True, slots=True)
class _Param:
    """A scalar path or query parameter: where it is read, and its validator."""

    name: str
    key: str
    loc: tuple[str, str]
    adapter: TypeAdapter[Any]
    default: Any  # PydanticUndefined when required

    def read(self, received: Mapping[str, Any], values: dict[str, Any], errors: list[Any]) -> None:
        raw = received.get(self.key)
        if raw is None:  # only optional ones can be missing (checked at start-up)
            values[self.name] = deepcopy(self.default)
            return
        try:
            values[self.name] = self.adapter.validate_python(raw, from_attributes=True)
        except ValidationError as error:
            errors.extend(_errors_at(error, self.loc))


@dataclass(frozen=True, slots=True)
class _Body:
    name: str
    adapter: TypeAdapter[Any]


@dataclass(frozen=True, slots=True)
class _EndpointShape:
    """What a hot endpoint takes, read once from its signature."""

    transaction_name: str
    path_params: tuple[_Param, ...]
    query_params: tuple[_Param, ...]
    body: _Body | None
    response_name: str | None

    @classmethod
    def of(cls, route: APIRoute) -> _EndpointShape:
        def refuse(why: str) -> TypeError:
            return TypeError(
                f"{route.path}: a DriverRoute endpoint takes the request transaction, scalar "
                f"path parameters, optional scalar query parameters and at most one body "
                f"({why})"
            )

        ignored = [
            option
            for option, is_set in (
                ("response_model_include", route.response_model_include is not None),
                ("response_model_exclude", route.response_model_exclude is not None),
                ("response_model_by_alias", not route.response_model_by_alias),
                ("response_model_exclude_unset", route.response_model_exclude_unset),
                ("response_model_exclude_defaults", route.response_model_exclude_defaults),
                ("response_model_exclude_none", route.response_model_exclude_none),
                ("dependencies", bool(route.dependencies)),
                ("response_class", not isinstance(route.response_class, DefaultPlaceholder)),
                # A JSON body is read only under a JSON content type (FastAPI's default).
                ("strict_content_type=False", not _default_or_value(route.strict_content_type)),
            )
            if is_set
        ]
        if ignored:
            raise refuse(f"it would ignore {', '.join(ignored)}")
        hints = typing.get_type_hints(route.endpoint, include_extras=True)
        transaction_name = response_name = None
        body = None
        path_params: list[_Param] = []
        query_params: list[_Param] = []
        for name, parameter in inspect.signature(route.endpoint).parameters.items():
            annotation = hints.get(name, Any)
            base, metadata = _split(annotation)
            dependency = next((m for m in metadata if isinstance(m, params.Depends)), None)
            param_info = next((m for m in metadata if isinstance(m, params.Param)), None)
            if dependency is not None:
                if dependency.dependency is not get_transaction or transaction_name:
                    raise refuse(f"{name}: a dependency other than the transaction")
                transaction_name = name
            elif base is Response:
                response_name = name
            elif isinstance(base, type) and issubclass(base, BaseModel):
                if body is not None or parameter.default is not inspect.Parameter.empty:
                    raise refuse(f"{name}: a second or optional body")
                if any(isinstance(m, params.Body) and m.embed for m in metadata):
                    raise refuse(f"{name}: an embedded body")
                body = _Body(name, TypeAdapter(annotation))
            elif _is_scalar(base) and (
                param_info is None or isinstance(param_info, params.Path | params.Query)
            ):
                in_path = isinstance(param_info, params.Path) or name in route.param_convertors
                key = (param_info.alias if param_info is not None else None) or name
                default = parameter.default
                if default is inspect.Parameter.empty:
                    if not in_path:
                        raise refuse(f"{name}: a required query parameter")
                    default = PydanticUndefined
                param = _Param(
                    name,
                    key,
                    ("path" if in_path else "query", key),
                    _adapter(annotation),
                    default,
                )
                (path_params if in_path else query_params).append(param)
            else:
                raise refuse(f"{name}: not a scalar path or query parameter")
        if transaction_name is None:
            raise refuse("no request transaction")
        return cls(transaction_name, tuple(path_params), tuple(query_params), body, response_name)

    def arguments(self, request: Request, body: Any) -> dict[str, Any]:
        """The endpoint's path, query and body arguments, or 422 with FastAPI's errors."""
        values: dict[str, Any] = {}
        errors: list[Any] = []
        for param in self.path_params:
            param.read(request.path_params, values, errors)
        for param in self.query_params:
            param.read(request.query_params, values, errors)
        if self.body is not None:
            if body is PydanticUndefined:
                errors.append(_missing(("body",)))
            else:
                try:
                    values[self.body.name] = self.body.adapter.validate_python(
                        body, from_attributes=True
                    )
                except ValidationError as error:
                    errors.extend(_errors_at(error, ("body",)))
        if errors:
            raise RequestValidationError(errors, body=None if body is PydanticUndefined else body)
        return values


def _default_or_value(option: Any) -> Any:
    return option.value if isinstance(option, DefaultPlaceholder) else option


def _split(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    if typing.get_origin(annotation) is Annotated:
        base, *metadata = typing.get_args(annotation)
        return base, tuple(metadata)
    return annotation, ()


def _is_scalar(annotation: Any) -> bool:
    """Not a model, not a collection, not one of the request objects FastAPI injects."""
    for option in typing.get_args(annotation) or (annotation,):
        base = typing.get_origin(option) or option
        if isinstance(base, type) and (
            issubclass(base, BaseModel | Request | Response | list | set | tuple | dict)
        ):
            return False
    return True


def _adapter(annotation: Any) -> TypeAdapter[Any]:
    # The parameter's own constraints (FastAPI's `Path`/`Query` field info) apply; its
    # documentation-only attributes (alias, description) are not pydantic's business here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TypeAdapter(annotation)


def _errors_at(error: ValidationError, loc: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{**item, "loc": loc + tuple(item["loc"])} for item in error.errors(include_url=False)]


def _missing(loc: tuple[str, ...]) -> dict[str, Any]:
    """FastAPI's "Field required" for a value that was not sent."""
    item: dict[str, Any] = dict(
        ValidationError.from_exception_data(
            "Field required", [{"type": "missing", "loc": loc, "input": {}}]
        ).errors(include_url=False)[0]
    )
    item["input"] = None
    return item


async def _json_body(request: Request) -> Any:
    """The body as FastAPI reads it for a JSON model: parsed when its content type is JSON,
    the raw bytes otherwise (which then fail validation), undefined (missing) when empty."""
    raw = await request.body()
    if not raw:
        return PydanticUndefined
    content_type = request.headers.get("content-type")
    if not content_type:
        return raw
    if content_type != "application/json" and not _names_json(content_type):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", error.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": error.msg},
                }
            ],
            body=error.doc,
        ) from None
    except Exception as error:  # e.g. not UTF-8: FastAPI's answer for a body it cannot read
        raise HTTPException(
            status_code=400, detail="There was an error parsing the body"
        ) from error


def _names_json(content_type: str) -> bool:
    """`application/json; charset=utf-8`, `application/problem+json`, ...: FastAPI's rule."""
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def driver_route(
    router: Any, path: str, *, method: str, **kwargs: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`@router.put(path, ...)` for a hot path: the same route, served by `DriverRoute`."""

    def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        router.add_api_route(
            path, endpoint, methods=[method], route_class_override=DriverRoute, **kwargs
        )
        return endpoint

    return register
