"""Rules from version records: parsed once per distinct content, shared."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from app.domain.progress import Schedule
from app.models.enums import HabitType, TargetDirection
from app.repositories.habits import rule_of


def record(**changes: object) -> dict[str, object]:
    version: dict[str, object] = {
        "number": 2,
        "effective_from": date(2026, 3, 1),
        "schedule": '{"kind": "weekdays", "weekdays": [1, 3, 5]}',
        "type": "numeric",
        "target_value": Decimal("3.00"),
        "target_direction": "at_least",
    }
    return version | changes


def test_a_record_becomes_its_rule() -> None:
    rule = rule_of(record())

    assert rule.number == 2
    assert rule.effective_from == date(2026, 3, 1)
    assert rule.schedule == Schedule("weekdays", weekdays=frozenset({1, 3, 5}))
    assert rule.type == HabitType.NUMERIC
    assert rule.direction == TargetDirection.AT_LEAST
    assert str(rule.target_value) == "3.00"


def test_equal_records_share_one_rule_and_any_difference_is_another() -> None:
    assert rule_of(record()) is rule_of(record())
    for change in (
        {"number": 3},
        {"effective_from": date(2026, 3, 2)},
        {"schedule": '{"kind": "daily"}'},
        {"target_value": Decimal("4.00")},
        {"target_direction": "at_most"},
    ):
        assert rule_of(record(**change)) != rule_of(record()), change


def test_an_equal_target_written_differently_keeps_its_own_text() -> None:
    # Decimal("3") == Decimal("3.00"): shared by value, a board would show the other's text.
    assert str(rule_of(record(target_value=Decimal("3"))).target_value) == "3"
    assert str(rule_of(record(target_value=Decimal("3.00"))).target_value) == "3.00"


def test_a_boolean_habit_has_no_target() -> None:
    rule = rule_of(record(type="boolean", target_value=None, target_direction=None))

    assert rule.target_value is None
    assert rule.direction is None
