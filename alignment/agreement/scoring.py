"""Explainable lead scoring against the agreement's qualification criteria.

One formula: fit rules give their points when their test passes; engagement rules
give `points × 0.5^(age_days / half_life_days)` per matching touch; must rules give
nothing but all must pass for a lead to qualify. The breakdown lists every rule that
gave points (rule → points), so a score always explains itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from alignment.models import QualificationRule, RuleKind, RuleOperator

# Lead attributes rules may test; `custom.<key>` reads a custom field.
# A custom field a rule may test: custom.<key> (the lead's custom_fields[key]).
CUSTOM_FIELD = re.compile(r"custom\.[A-Za-z0-9_-]{1,60}")

SCORABLE_FIELDS = [
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "phone",
    "country",
    "industry",
    "company_size",
    "source",
]


@dataclass
class ScoreResult:
    score: int
    breakdown: list[dict[str, Any]] = field(default_factory=list)
    must_failures: list[str] = field(default_factory=list)

    @property
    def passes_must_rules(self) -> bool:
        return not self.must_failures


def lead_field_value(lead: Any, name: str) -> Any:
    """The value a rule tests: `name` of a lead, or of a dict of a new lead's fields."""
    if name.startswith("custom."):
        return (_attribute(lead, "custom_fields") or {}).get(name.removeprefix("custom."))
    return _attribute(lead, name)


def _attribute(lead: Any, name: str) -> Any:
    return lead.get(name) if isinstance(lead, dict) else getattr(lead, name, None)


def _number(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _norm(value: Any) -> str:
    return "" if value is None else str(value).strip().lower()


def rule_test(operator: str, actual: Any, expected: Any) -> bool:
    """Whether a lead's value passes one fit/must test."""
    if operator == RuleOperator.EXISTS:
        return actual not in (None, "", [], {})
    if operator in (RuleOperator.GTE, RuleOperator.LTE):
        a, b = _number(actual), _number(expected)
        if a is None or b is None:
            return False
        return a >= b if operator == RuleOperator.GTE else a <= b
    if operator in (RuleOperator.IN, RuleOperator.NOT_IN):
        options = expected if isinstance(expected, list) else [expected]
        hit = _norm(actual) in {_norm(o) for o in options}
        return hit if operator == RuleOperator.IN else not hit
    if operator == RuleOperator.CONTAINS:
        return bool(_norm(expected)) and _norm(expected) in _norm(actual)
    if operator == RuleOperator.EQ:
        a, b = _number(actual), _number(expected)
        return a == b if a is not None and b is not None else _norm(actual) == _norm(expected)
    if operator == RuleOperator.NEQ:
        return not rule_test(RuleOperator.EQ, actual, expected)
    raise ValueError(f"Unknown operator {operator!r}")


def decayed_points(points: int, *, age_days: float, half_life_days: int) -> float:
    return points * 0.5 ** (max(age_days, 0.0) / half_life_days)


def score_compute(
    *,
    lead: Any,
    rules: Iterable[QualificationRule],
    touches: Iterable[tuple[str, datetime]],
    now: datetime | None = None,
) -> ScoreResult:
    """Score one lead: `touches` are (kind, occurred_at) pairs of the lead's touches."""
    now = now or timezone.now()
    touch_list = list(touches)
    result = ScoreResult(score=0)
    total = 0.0
    for rule in rules:
        label = rule.description or str(rule)
        if rule.kind == RuleKind.MUST:
            if not rule_test(rule.operator, lead_field_value(lead, rule.field), rule.value):
                result.must_failures.append(label)
            continue
        if rule.kind == RuleKind.FIT:
            if rule_test(rule.operator, lead_field_value(lead, rule.field), rule.value):
                total += rule.points
                result.breakdown.append(
                    {"rule_id": rule.pk, "rule": label, "kind": "fit", "points": rule.points}
                )
            continue
        points = sum(
            decayed_points(
                rule.points,
                age_days=(now - at).total_seconds() / 86400,
                half_life_days=rule.half_life_days or 1,
            )
            for kind, at in touch_list
            if kind == rule.touch_kind
        )
        if points:
            total += points
            result.breakdown.append(
                {
                    "rule_id": rule.pk,
                    "rule": label,
                    "kind": "engagement",
                    "points": round(points, 1),
                }
            )
    result.score = round(total)
    return result
