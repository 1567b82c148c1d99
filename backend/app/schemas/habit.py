"""The HTTP shapes of habits: schedules, measures, versions, check-ins (single and batch), stats
and history."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.models.enums import CheckinStatus, HabitType, TargetDirection
from app.schemas.common import (
    Name,
    NotNull,
    Page,
    PatchModel,
    ReadModel,
    RequestModel,
    StrictBool,
    StrictInt,
    Version,
)
from app.schemas.problem import Problem

Color = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
Icon = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Description = Annotated[str, StringConstraints(max_length=2000)]
Unit = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
_THOUSANDTH = Decimal("0.001")
_MAX_AMOUNT = Decimal("99999999999")


def _amount_between(minimum: Decimal) -> Callable[[object], Decimal]:
    """A JSON number (never a string or a boolean) within [minimum, 99999999999], kept to
    three decimal places (rounded: a float's binary noise is not the user's intent)."""

    def amount(value: object) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise PydanticCustomError("number_type", "must be a number, like 2.5")
        raw = Decimal(str(value))
        if not raw.is_finite() or not minimum <= raw <= _MAX_AMOUNT:
            raise PydanticCustomError(
                "number_range",
                "must be between {minimum} and {maximum}",
                {"minimum": str(minimum), "maximum": str(_MAX_AMOUNT)},
            )
        return raw.quantize(_THOUSANDTH, rounding=ROUND_HALF_UP)

    return amount


Amount = Annotated[
    Decimal,
    PlainValidator(_amount_between(Decimal(0))),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 99999999999}),
]
Target = Annotated[
    Decimal,
    PlainValidator(_amount_between(_THOUSANDTH)),
    WithJsonSchema({"type": "number", "minimum": 0.001, "maximum": 99999999999}),
]
# Amounts go out as JSON numbers, not the strings pydantic uses for Decimal by default.
Number = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
# Dates a habits app can mean: nothing before 2000 or after 2100 (also keeps loops bounded).
# The pattern says the same in the document, where JSON Schema has no date bounds.
AppDate = Annotated[
    date,
    Field(
        ge=date(2000, 1, 1),
        le=date(2100, 12, 31),
        json_schema_extra={"pattern": r"^(20[0-9]{2}|2100)-[0-9]{2}-[0-9]{2}$"},
    ),
]


class DailySchedule(RequestModel):
    kind: Literal["daily"]


class WeekdaysSchedule(RequestModel):
    kind: Literal["weekdays"]
    weekdays: Annotated[
        list[Annotated[StrictInt, Field(ge=1, le=7)]], Field(min_length=1, max_length=7)
    ] = Field(
        description="ISO weekdays: 1 = Monday ... 7 = Sunday, each once.",
        json_schema_extra={"uniqueItems": True},
    )

    @model_validator(mode="after")
    def _distinct_sorted(self) -> WeekdaysSchedule:
        if len(set(self.weekdays)) != len(self.weekdays):
            raise ValueError("weekdays must not repeat")
        self.weekdays = sorted(self.weekdays)
        return self


class PerPeriodSchedule(RequestModel):
    # A week has 7 days: said in the document too, not only by the validator below.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"period": {"const": "week"}}, "required": ["period"]},
            "then": {"properties": {"times": {"maximum": 7}}},
        }
    )

    kind: Literal["per_period"]
    times: Annotated[StrictInt, Field(ge=1, le=31)]
    period: Literal["week", "month"]

    @model_validator(mode="after")
    def _fits_period(self) -> PerPeriodSchedule:
        if self.period == "week" and self.times > 7:
            raise ValueError("a week has 7 days: times must be at most 7")
        return self


Schedule = Annotated[
    DailySchedule | WeekdaysSchedule | PerPeriodSchedule, Field(discriminator="kind")
]
# The kinds, read off the union, for where only the kind is shown (the boards).
ScheduleKind = Literal["daily", "weekdays", "per_period"]
assert set(get_args(ScheduleKind)) == {
    get_args(model.model_fields["kind"].annotation)[0]
    for model in (DailySchedule, WeekdaysSchedule, PerPeriodSchedule)
}
SortOrder = Annotated[StrictInt, Field(ge=-1_000_000, le=1_000_000)]


class Measure(RequestModel):
    """How a habit is measured: shared by create and by versioned changes."""

    type: HabitType = HabitType.BOOLEAN
    target_value: Target | None = None
    unit: Unit | None = None
    target_direction: TargetDirection | None = None

    def check_measure(self) -> None:
        if self.type == HabitType.NUMERIC:
            if self.target_value is None:
                raise ValueError("numeric habits need target_value > 0")
            if self.target_direction is None:
                self.target_direction = TargetDirection.AT_LEAST
        elif self.target_value is not None or self.target_direction is not None:
            raise ValueError("boolean habits have no target_value or target_direction")


# Measure.check_measure in the document's words: a numeric habit has a target; a boolean one
# (the default) has neither target nor direction.
MEASURE_RULE: dict[str, Any] = {
    "if": {"properties": {"type": {"const": "numeric"}}, "required": ["type"]},
    "then": {"properties": {"target_value": {"type": "number"}}, "required": ["target_value"]},
    "else": {
        "properties": {"target_value": {"type": "null"}, "target_direction": {"type": "null"}}
    },
}


class HabitCreate(Measure):
    model_config = ConfigDict(
        json_schema_extra={
            **MEASURE_RULE,
            "examples": [
                {
                    "name": "Brush teeth",
                    "assignee_id": "5b9e2f3a-1c4d-4e6f-8a7b-9c0d1e2f3a4b",
                    "schedule": {"kind": "daily"},
                    "color": "#4CAF50",
                    "icon": "tooth",
                },
                {
                    "id": "7d3c2b1a-0f9e-4d8c-b7a6-5e4d3c2b1a09",
                    "name": "Read",
                    "assignee_id": "5b9e2f3a-1c4d-4e6f-8a7b-9c0d1e2f3a4b",
                    "type": "numeric",
                    "target_value": 20,
                    "unit": "pages",
                    "target_direction": "at_least",
                    "schedule": {"kind": "weekdays", "weekdays": [1, 2, 3, 4, 5]},
                    "start_date": "2026-03-09",
                },
                {
                    "name": "Screen time",
                    "assignee_id": "5b9e2f3a-1c4d-4e6f-8a7b-9c0d1e2f3a4b",
                    "type": "numeric",
                    "target_value": 60,
                    "unit": "min",
                    "target_direction": "at_most",
                    "schedule": {"kind": "daily"},
                },
                {
                    "name": "Swim",
                    "assignee_id": "5b9e2f3a-1c4d-4e6f-8a7b-9c0d1e2f3a4b",
                    "schedule": {"kind": "per_period", "times": 2, "period": "week"},
                    "description": "Any pool, any length.",
                },
            ],
        }
    )

    id: uuid.UUID | None = None
    name: Name
    assignee_id: uuid.UUID
    schedule: Schedule
    start_date: AppDate | None = Field(
        default=None, description="Default: today in the assignee's timezone."
    )
    description: Description | None = None
    color: Color | None = None
    icon: Icon | None = None
    sort_order: SortOrder = 0

    @model_validator(mode="after")
    def _measure(self) -> HabitCreate:
        self.check_measure()
        return self


class HabitUpdate(PatchModel):
    """Change a habit: a field left out is unchanged; `null` clears `description`, `color`,
    `icon`, `target_value`, `unit` and `target_direction` and is refused for the others.
    Measure and schedule changes start a new version from `effective_from`."""

    name: NotNull[Name] = None
    description: Description | None = None
    color: Color | None = None
    icon: Icon | None = None
    sort_order: NotNull[SortOrder] = None
    archived: NotNull[StrictBool] = None
    type: NotNull[HabitType] = None
    target_value: Target | None = None
    unit: Unit | None = None
    target_direction: TargetDirection | None = None
    schedule: NotNull[Schedule] = None
    effective_from: NotNull[AppDate] = Field(
        default=None, description="When a target/schedule change starts (default: today)."
    )
    version: NotNull[Version] = Field(
        default=None, description="The version you last read; alternative to If-Match."
    )

    @property
    def changes_measure(self) -> bool:
        return bool(self.model_fields_set & MEASURE_FIELDS)


MEASURE_FIELDS = frozenset({"type", "target_value", "unit", "target_direction", "schedule"})


class HabitVersionRead(ReadModel):
    number: int
    effective_from: date
    type: HabitType
    target_value: Number | None
    unit: str | None
    target_direction: TargetDirection | None
    schedule: Schedule
    created_at: datetime


class HabitRead(ReadModel):
    id: uuid.UUID
    family_id: uuid.UUID
    assignee_id: uuid.UUID
    name: str
    description: str | None
    color: str | None
    icon: str | None
    sort_order: int
    start_date: date
    archived: bool
    version: int
    type: HabitType
    target_value: Number | None
    unit: str | None
    target_direction: TargetDirection | None
    schedule: Schedule
    current_version: int
    created_at: datetime
    updated_at: datetime


class CompletionRates(BaseModel):
    days_7: float | None
    days_30: float | None
    days_90: float | None


class HabitStats(BaseModel):
    habit_id: uuid.UUID
    as_of: date
    current_streak: int
    best_streak: int
    score: float
    completion_rate: CompletionRates


class HistoryDay(BaseModel):
    date: date
    status: Literal["done", "partial", "missed", "skipped", "not_due"]
    value: Number | None
    final: bool = Field(description="False for today: the day can still change.")


class HabitHistory(BaseModel):
    items: list[HistoryDay]


class CheckinWrite(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "done"},
                {"status": "done", "value": 25, "note": "Finished the chapter"},
                {"status": "skipped", "note": "Sick day"},
            ]
        }
    )

    status: CheckinStatus
    value: Amount | None = None
    note: Annotated[str, StringConstraints(max_length=1000)] | None = None


class BatchCheckinItem(CheckinWrite):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "habit_id": "7d3c2b1a-0f9e-4d8c-b7a6-5e4d3c2b1a09",
                    "date": "2026-03-08",
                    "status": "done",
                    "value": 12,
                }
            ]
        }
    )

    habit_id: uuid.UUID
    date: AppDate


class BatchCheckinsRequest(RequestModel):
    # Documented as BatchCheckinItem[], taken as objects: items are validated one by one, so
    # a malformed item gets its own 422 result instead of failing the batch.
    items: Annotated[
        list[dict[str, Any]],
        Field(min_length=1, max_length=500),
        WithJsonSchema(
            {
                "type": "array",
                "items": {"$ref": "#/components/schemas/BatchCheckinItem"},
                "minItems": 1,
                "maxItems": 500,
                "description": "Up to 500 check-ins. Each item is checked on its own: one "
                "that is malformed or refused gets its own 4xx result, the others are written.",
            }
        ),
    ]


class CheckinRead(ReadModel):
    id: uuid.UUID
    habit_id: uuid.UUID
    date: date
    status: CheckinStatus
    value: Number | None
    note: str | None
    logged_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class CheckinList(BaseModel):
    items: list[CheckinRead]


class BatchCheckinResult(BaseModel):
    status: int = Field(description="201 created, 200 replaced, or the item's 4xx status.")
    checkin: CheckinRead | None = Field(description="The check-in as written; null on failure.")
    problem: Problem | None = Field(description="Why the item failed; null on success.")


class BatchCheckinsResponse(BaseModel):
    results: list[BatchCheckinResult]


class HabitPage(Page[HabitRead]):
    """A page of habits."""
