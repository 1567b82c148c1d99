"""Every `code` a problem+json answer can carry, with its status and meaning.

The one list of the API's error codes: the OpenAPI document's `Problem.code` enum is built
from it (`app.api.openapi`), `docs/API.md`'s table is checked against it, and a test makes
sure every code the source raises or answers with is in it. Codes declared by a
`ProblemError` subclass register themselves when the class is defined (its docstring or
title is the meaning); codes passed as `code=` or answered by the handlers are listed here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProblemCode:
    code: str
    status: int
    meaning: str


_REGISTRY: dict[str, ProblemCode] = {}


def declare(code: str, status: int, meaning: str) -> str:
    """Add a code to the registry (the first declaration wins) and return it."""
    _REGISTRY.setdefault(code, ProblemCode(code, status, " ".join(meaning.split())))
    return code


def registered() -> list[ProblemCode]:
    """Every known code, sorted by status, then name."""
    return sorted(_REGISTRY.values(), key=lambda entry: (entry.status, entry.code))


def is_registered(code: str) -> bool:
    return code in _REGISTRY


def status_of(code: str) -> int:
    """The status a registered code is answered with (KeyError for an unknown code: a route
    cannot document a code nobody declared)."""
    return _REGISTRY[code].status


def meaning_of(code: str) -> str:
    return _REGISTRY[code].meaning


# Codes answered by the framework's handlers, the database handler and middleware, and the
# ones services pass as `code=`. Subclasses of ProblemError add theirs on definition.
for _code, _status, _meaning in (
    ("bad_request", 400, "The request cannot be read: a body that is not JSON or not UTF-8."),
    ("invalid_if_match", 400, 'If-Match is not a version ETag like "3".'),
    ("unauthorized", 401, "Authentication failed."),
    ("missing_token", 401, "No bearer token was sent."),
    ("invalid_token", 401, "The bearer token is malformed, expired or not signed by us."),
    ("user_not_found", 401, "The token's user no longer exists."),
    ("forbidden", 403, "Not allowed."),
    (
        "anonymous_user_not_allowed",
        403,
        "The token is of an anonymous sign-in, which this API does not accept"
        " (`ALLOW_ANONYMOUS_USERS`).",
    ),
    ("insufficient_role", 403, "Your role in the family does not allow this."),
    ("permission_denied", 403, "The database refused the change for your role."),
    ("not_found", 404, "No such resource, or not visible to you."),
    ("method_not_allowed", 405, "The path exists but not with this method; see `Allow`."),
    ("not_acceptable", 406, "The response cannot be given in an accepted media type."),
    ("conflict", 409, "The change conflicts with the current data."),
    ("last_owner", 409, "A family always keeps an owner."),
    ("gone", 410, "The resource is no longer available."),
    ("invitation_expired", 410, "The invitation has expired."),
    ("invitation_revoked", 410, "The invitation was revoked."),
    ("invitation_used", 410, "The invitation has been used up."),
    ("precondition_failed", 412, "The precondition (If-Match) does not hold."),
    ("payload_too_large", 413, "The request body is larger than the limit."),
    ("unsupported_media_type", 415, "The body's media type is not accepted."),
    ("validation_error", 422, "The request is not valid; `errors` says where and why."),
    ("invalid_value", 422, "A value is out of range or cannot be stored."),
    ("invalid_cursor", 422, "The cursor is not one this API issued."),
    ("invalid_range", 422, "`from` is after `to`."),
    ("range_too_long", 422, "The date range is longer than allowed."),
    ("date_in_future", 422, "The check-in's date is after the habit's local today."),
    ("before_start", 422, "The check-in's date is before the habit's start."),
    ("outside_backfill_window", 422, "The check-in's date is older than the backfill window."),
    ("value_not_allowed", 422, "A yes/no habit takes no value."),
    ("value_required", 422, "A measured habit needs a value when done."),
    ("not_assignee", 403, "Only the habit's assignee or a family admin can do this."),
    ("owner_required", 403, "Only an owner grants or removes the owner role."),
    ("invitation_email_mismatch", 403, "The invitation was sent to another email address."),
    ("family_not_found", 404, "No such family, or you are not a member."),
    ("member_not_found", 404, "No such member in this family."),
    ("habit_not_found", 404, "No such habit, or not visible to you."),
    ("routine_not_found", 404, "No such routine, or not visible to you."),
    ("routine_version_not_found", 404, "The routine has no version with this number."),
    ("invitation_not_found", 404, "No invitation matches this token or id."),
    ("id_conflict", 409, "The client-generated id is taken by a different resource or body."),
    ("sole_owner", 409, "You are the only owner of a family with other members."),
    ("habit_archived", 409, "The habit is archived; unarchive it to log it."),
    ("member_not_managed", 409, "The profile already has a login."),
    ("stored_data_unreadable", 409, "A stored row cannot be read; it has been reported."),
    ("version_mismatch", 412, "The resource changed since you read it; fetch it and retry."),
    ("managed_profile_role", 422, "Managed profiles can only be members."),
    ("invalid_habit_change", 422, "The habit change leaves an invalid measure or schedule."),
    ("invalid_routine_items", 422, "The habits are not of the routine's family and assignee."),
    ("internal_error", 500, "A bug on our side; it has been logged."),
    ("http_error", 500, "An HTTP error without a more specific code."),
    ("service_unavailable", 503, "A dependency is not reachable; retry after `Retry-After`."),
    ("database_unavailable", 503, "The database is not reachable; retry after `Retry-After`."),
    ("database_busy", 503, "The database could not finish in time; retry after `Retry-After`."),
):
    declare(_code, _status, _meaning)
