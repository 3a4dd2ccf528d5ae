"""The block rule both services apply: between two people either of whom blocked the other,
nothing connects (services/api/visibility.py explains every rule and re-exports this one; the
gateway refuses a walk-together socket across a block with it, CONTRACT section 4)."""

from __future__ import annotations


def unblocked_between(a: str, b: str) -> str:
    """SQL condition: neither of the users `a` and `b` has blocked the other. The arguments are
    SQL expressions: a column such as `i.inviter_id`, or a bound parameter such as `$1`."""
    return (
        f"NOT EXISTS (SELECT 1 FROM blocks vb WHERE (vb.blocker_id = {a} AND vb.blocked_id = {b}) "
        f"OR (vb.blocker_id = {b} AND vb.blocked_id = {a}))"
    )
