"""Tenancy lives in one module: no query of `backend/app` narrows itself to the caller's
memberships except through `app/repositories/tenancy.py` (the way Polar lints its
organization scoping). The lint itself is tested on snippets, each shape it must catch and
the look-alikes it must leave alone."""

from __future__ import annotations

import pytest

from tests.architecture.tenancy_lint import TENANCY, app_violations, violations_in


def test_no_membership_filter_outside_tenancy() -> None:
    found = [str(v) for v in app_violations()]
    assert found == [], "use app.repositories.tenancy for these:\n" + "\n".join(found)


def test_the_tenancy_module_is_what_the_lint_recognises() -> None:
    # Read as any other module, tenancy.py's own joins are found: the lint sees both forms.
    found = violations_in(TENANCY.read_text(), "repositories/tenancy.py")
    assert any("FamilyMember.user_id == actor.user_id" in v.source for v in found)
    assert any("family_members" in v.source for v in found)


@pytest.mark.parametrize(
    "snippet",
    [
        # ORM filters on the caller
        "q = select(FamilyMember).where(FamilyMember.user_id == actor.user_id)",
        "q = select(Habit).join(m, m.user_id == self.actor.user_id)",
        "q = query.where(self.actor.user_id == mine.user_id)",
        "n = count(FamilyMember.user_id == user_id)",
        "q = session.query(FamilyMember).filter_by(user_id=actor.user_id)",
        # SQL text joining or filtering memberships on a bound user
        'SQL = """select 1 from habits h\njoin family_members me on me.family_id ='
        ' h.family_id and me.user_id = $2"""',
        'SQL = "select id from family_members where user_id = :user"',
        'SQL = "select id from family_members m where $1 = m.user_id"',
        'SQL = f"select * from family_members {alias} where {alias}.user_id = {param}"',
        'SQL = text("select f.id from families f join family_members m using (family_id)"'
        ' " where m.user_id = :me")',
    ],
)
def test_the_lint_catches(snippet: str) -> None:
    assert len(violations_in(snippet, "snippet.py")) == 1, snippet


@pytest.mark.parametrize(
    "snippet",
    [
        # A profile joined to a member, a family's members, the user's own profile row
        "q = select(FamilyMember, User).outerjoin(User, User.id == FamilyMember.user_id)",
        "q = select(FamilyMember).where(FamilyMember.family_id == family_id)",
        "q = delete(User).where(User.id == self.actor.user_id)",
        "q = select(FamilyMember).where(FamilyMember.user_id.is_(None))",
        # SQL naming memberships without a caller, or a user filter on another table
        'SQL = "select id from family_members where family_id = $1"',
        'SQL = "join family_members a on a.id = h.assignee_id left join users p on p.id ='
        ' a.user_id"',
        'SQL = "select timezone from users where id = $1"',
    ],
)
def test_the_lint_leaves_alone(snippet: str) -> None:
    assert violations_in(snippet, "snippet.py") == [], snippet


def test_a_violation_names_its_place() -> None:
    source = "x = 1\nq = select(M).where(M.user_id == actor.user_id)\n"
    (violation,) = violations_in(source, "services/example.py")
    assert str(violation) == (
        "services/example.py:2: q = select(M).where(M.user_id == actor.user_id)"
    )
