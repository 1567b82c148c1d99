"""A lean request pipeline for the hot paths' routes (`app.db.sql`).

FastAPI's generic handler (dependency graph solving, exit stacks per dependency, telemetry
hooks) cost ≈ 0.5 ms per request on the benchmark machine: a third of a check-in PUT's CPU.
The hot routes have one fixed shape, the acting connection plus path, query and body
parameters, so `DriverRoute` serves them in a straight line while keeping FastAPI's contract:
the route is declared, documented and matched like any other, its parameters are validated
by their FastAPI fields (the body by FastAPI's own function) and its response by FastAPI's
serializer, so every 401/422/2xx answer is the one the generic handler gives
(`tests/api/test_driver_route.py` compares them; the route tests run against these routes).

One deliberate difference: the token is checked, then the parameters, and only then is the
transaction opened, so a request that is not valid costs no database round trip.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Coroutine, Mapping
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from fastapi import params
from fastapi._compat import ModelField, field_annotation_is_sequence, lenient_issubclass
from fastapi.dependencies.utils import get_validation_alias, request_body_to_args
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.routing import APIRoute, serialize_response
from pydantic import BaseModel
from pydantic_core import PydanticUndefined
from starlette.requests import Request
from starlette.responses import Response

from app.api.deps import acting_transaction, bearer, get_acting_connection, verified_claims


class DriverRoute(APIRoute):
    """A route whose endpoint takes the acting connection (`ActingConnectionDep`), path and
    query parameters, at most one JSON body and optionally the `Response`; nothing else (a
    route of another shape fails at start-up instead of losing a dependency)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        dependencies = self.dependant.dependencies
        if (
            len(dependencies) != 1
            or dependencies[0].call is not get_acting_connection
            or self.dependant.header_params
            or self.dependant.cookie_params
            or len(self.dependant.body_params) > 1
            or self.dependant.background_tasks_param_name
            or dependencies[0].name is None
            or not all(map(_is_scalar, self.dependant.path_params + self.dependant.query_params))
            or any(field.field_info.is_required() for field in self.dependant.query_params)
        ):
            raise TypeError(
                f"{self.path}: a DriverRoute endpoint takes the acting connection, scalar path "
                "parameters, optional scalar query parameters and at most one body"
            )
        self.acting_param_name: str = dependencies[0].name
        self._path_params = [_Param.of(field) for field in self.dependant.path_params]
        self._query_params = [_Param.of(field) for field in self.dependant.query_params]

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.serve

    async def serve(self, request: Request) -> Response:
        claims = await verified_claims(request, await bearer(request))
        body = await _json_body(request) if self.dependant.body_params else None
        values = self._validated_arguments(request, body)
        # What the endpoint sets on it (a status, headers) goes into the answer, as FastAPI
        # does; made only for an endpoint that takes it (the PUT, for its 201).
        sub_response = None
        if self.dependant.response_param_name:
            sub_response = Response()
            del sub_response.headers["content-length"]
            sub_response.status_code = None  # type: ignore[assignment]
            values[self.dependant.response_param_name] = sub_response
        async with acting_transaction(request, claims) as acting:
            values[self.acting_param_name] = acting
            assert self.dependant.call is not None
            result = await self.dependant.call(**values)
        # Committed: the answer is built only for work that is durable.
        content = await serialize_response(
            field=self.response_field, response_content=result, dump_json=True
        )
        status_code = sub_response.status_code if sub_response is not None else None
        response = Response(
            content,
            status_code=status_code or self.status_code or 200,
            media_type="application/json",
        )
        if sub_response is not None:
            response.headers.raw.extend(sub_response.headers.raw)
        return response

    def _validated_arguments(self, request: Request, body: Any) -> dict[str, Any]:
        """The endpoint's path, query and body arguments, or 422 with FastAPI's errors."""
        values: dict[str, Any] = {}
        errors: list[Any] = []
        for param in self._path_params:
            param.read(request.path_params, values, errors)
        for param in self._query_params:
            param.read(request.query_params, values, errors)
        if self.dependant.body_params:
            body_values, body_errors = _body_arguments(self, body)
            values.update(body_values)
            errors += body_errors
        if errors:
            raise RequestValidationError(errors, body=None if body is PydanticUndefined else body)
        return values


def _is_scalar(field: ModelField) -> bool:
    annotation = field.field_info.annotation
    return not field_annotation_is_sequence(annotation) and not lenient_issubclass(
        annotation, BaseModel
    )


@dataclass(frozen=True, slots=True)
class _Param:
    """A scalar path or query parameter, read as `request_params_to_args` reads it (its
    generic per-field checks cost more than the validation itself on these routes)."""

    field: ModelField
    key: str
    loc: tuple[str, str]

    @classmethod
    def of(cls, field: ModelField) -> _Param:
        key = get_validation_alias(field)
        assert isinstance(field.field_info, params.Param)
        return cls(field, key, (field.field_info.in_.value, key))

    def read(self, received: Mapping[str, Any], values: dict[str, Any], errors: list[Any]) -> None:
        raw = received.get(self.key)
        if raw is None:  # only optional ones can be missing (checked at start-up)
            values[self.field.name] = deepcopy(self.field.default)
            return
        value, problems = self.field.validate(raw, values, loc=self.loc)
        if problems:
            errors.extend(problems)
        else:
            values[self.field.name] = value


def _body_arguments(route: APIRoute, body: Any) -> tuple[dict[str, Any], list[Any]]:
    # `request_body_to_args` is a coroutine only for form bodies, which these routes never
    # take; run it synchronously through its awaitable.
    coroutine = request_body_to_args(
        body_fields=route.dependant.body_params,
        received_body=body,
        embed_body_fields=route._embed_body_fields,
    )
    try:
        coroutine.send(None)
    except StopIteration as done:
        values, errors = done.value
        return values, errors
    coroutine.close()
    raise RuntimeError("a DriverRoute body was parsed asynchronously")


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
