"""Set-based rescoring: every lead's score and breakdown in one UPDATE ... FROM.

The same formula as alignment/agreement/scoring.py (`score_compute`), translated to SQL per rule:
fit rules become CASE expressions over lead columns, engagement rules become sums of
`points × 0.5^(age_days / half_life)` over the lead's touches (one GROUP BY), and the
breakdown is built in rule order as a JSON array. PostgreSQL is the target; SQLite
gets its own spelling of a few functions. Afterwards only the leads that now qualify
(in `inquiry`/`recycled`, at the threshold, every must rule passing) go through the
stage service one by one, so their stage events, SLA clocks and routing are written
exactly as for any other move.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from alignment.agreement.scoring import CUSTOM_FIELD, SCORABLE_FIELDS
from alignment.agreement.selectors import funnel_for
from alignment.models import (
    Agreement,
    AgreementStatus,
    FunnelStage,
    QualificationRule,
    RuleKind,
    RuleOperator,
    StageKey,
)
from leads.models import Lead
from leads.services.lifecycle import lead_promote_if_qualified

LEAD_TABLE = "leads_lead"
TOUCH_TABLE = "campaigns_touch"
# Memory for the whole-table rescore's hashes (every lead, and every lead's touch sums):
# at 1M leads each is ~100 MB. With the server's default (4 MB) both spill to disk in
# batches, and the rows then reach the UPDATE out of the table's order, so it rewrites
# pages at random: 37 s instead of 27 s (docs/performance.md, eighth round). Local to
# the statement (set back after it); a rescore of a few leads keeps the default.
RESCORE_WORK_MEM = "256MB"


@dataclass(frozen=True)
class _Dialect:
    vendor: str

    @property
    def pg(self) -> bool:
        return self.vendor == "postgresql"

    def column_text(self, field: str) -> str:
        """The lead value as normalised text: lower(trim(value)), '' when missing."""
        if field.startswith("custom."):
            key = field.removeprefix("custom.").replace("'", "''")
            raw = (
                f"(l.custom_fields ->> '{key}')"
                if self.pg
                else f"json_extract(l.custom_fields, '$.\"{key}\"')"
            )
            return f"LOWER(TRIM(COALESCE(CAST({raw} AS TEXT), '')))"
        if field == "company_size":
            return "COALESCE(CAST(l.company_size AS TEXT), '')"
        return f"LOWER(TRIM(COALESCE(l.{field}, '')))"

    def column_number(self, field: str) -> str:
        """The lead value as a number, NULL when it is not one."""
        if field == "company_size":
            return "l.company_size"
        text = f"TRIM({self.column_text(field)})"
        if self.pg:
            return (
                f"(CASE WHEN {text} ~ '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)$' "
                f"THEN CAST({text} AS DOUBLE PRECISION) END)"
            )
        return (
            f"(CASE WHEN {text} <> '' AND {text} NOT GLOB '*[^0-9.+-]*' "
            f"AND {text} GLOB '*[0-9]*' THEN CAST({text} AS REAL) END)"
        )

    def column_exists(self, field: str) -> str:
        if field == "company_size":
            return "l.company_size IS NOT NULL"
        if field.startswith("custom."):
            text = self.column_text(field)
            return f"{text} NOT IN ('', '[]', '{{}}')"
        return f"COALESCE(l.{field}, '') <> ''"

    def contains(self, haystack: str, needle_param: str) -> str:
        return (
            f"STRPOS({haystack}, {needle_param}) > 0"
            if self.pg
            else f"INSTR({haystack}, {needle_param}) > 0"
        )

    def age_days(self, now_param: str) -> str:
        if self.pg:
            return f"GREATEST(EXTRACT(EPOCH FROM ({now_param} - t.occurred_at)) / 86400.0, 0)"
        return f"MAX(julianday({now_param}) - julianday(t.occurred_at), 0)"

    def decay(self, now_sql: str) -> str:
        """points × 0.5^(age_days / half_life), from the parameters points and half-life."""
        if self.pg:
            return (
                "CAST(%s AS DOUBLE PRECISION) * POWER(CAST(0.5 AS DOUBLE PRECISION), "
                f"CAST({self.age_days(now_sql)} AS DOUBLE PRECISION) / %s)"
            )
        return f"%s * POWER(0.5, {self.age_days(now_sql)} / %s)"

    def now_param(self) -> str:
        return "CAST(%s AS TIMESTAMPTZ)" if self.pg else "%s"

    def round1(self, expr: str) -> str:
        return f"ROUND(CAST({expr} AS NUMERIC), 1)" if self.pg else f"ROUND({expr}, 1)"

    def json_value(self, text_expr: str) -> str:
        return f"CAST({text_expr} AS JSONB)" if self.pg else text_expr


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None


def _norm(value: Any) -> str:
    return "" if value is None else str(value).strip().lower()


def rule_predicate(rule: QualificationRule, dialect: _Dialect) -> tuple[str, list[Any]]:
    """SQL true exactly when `alignment.agreement.scoring.rule_test` passes for the lead `l`."""
    field, op, expected = rule.field, rule.operator, rule.value
    if field not in SCORABLE_FIELDS and not CUSTOM_FIELD.fullmatch(field):
        return "1 = 0", []  # never spliced into SQL: only known columns and safe keys
    text = dialect.column_text(field)
    if op == RuleOperator.EXISTS:
        return dialect.column_exists(field), []
    if op in (RuleOperator.GTE, RuleOperator.LTE):
        bound = _number(expected)
        if bound is None:
            return "1 = 0", []
        sign = ">=" if op == RuleOperator.GTE else "<="
        return f"{dialect.column_number(field)} {sign} %s", [bound]
    if op in (RuleOperator.IN, RuleOperator.NOT_IN):
        options = sorted(
            {_norm(o) for o in (expected if isinstance(expected, list) else [expected])}
        )
        marks = ", ".join(["%s"] * len(options))
        negate = "NOT " if op == RuleOperator.NOT_IN else ""
        return f"{text} {negate}IN ({marks})", options
    if op == RuleOperator.CONTAINS:
        needle = _norm(expected)
        if not needle:
            return "1 = 0", []
        return dialect.contains(text, "%s"), [needle]
    if op in (RuleOperator.EQ, RuleOperator.NEQ):
        number = _number(expected)
        params: list[Any]
        if number is None:
            sql, params = f"{text} = %s", [_norm(expected)]
        else:
            numeric = dialect.column_number(field)
            sql = f"(CASE WHEN {numeric} IS NOT NULL THEN {numeric} = %s ELSE {text} = %s END)"
            params = [number, _norm(expected)]
        if op == RuleOperator.NEQ:
            return f"NOT COALESCE({sql}, {'FALSE' if dialect.pg else '0'})", params
        return sql, params
    return "1 = 0", []


@dataclass(frozen=True)
class RescoreResult:
    rescored: int
    promoted: int


def _rules(agreement: Agreement) -> list[QualificationRule]:
    # The same order score_compute sees (the model's ordering: kind, id).
    return list(QualificationRule.objects.filter(agreement=agreement))


def _entry_prefix(rule: QualificationRule, label: str, kind: str) -> str:
    """The constant JSON text of a breakdown entry up to its points."""
    head = json.dumps({"rule_id": rule.pk, "rule": label, "kind": kind})
    return head[:-1] + ', "points": '


def leads_rescore_sql(
    *, agreement: Agreement, now: datetime, lead_ids: list[int] | None = None
) -> int:
    """Recompute score, breakdown and scored_at of every lead (or of `lead_ids`) in SQL.

    One statement. The inner SELECT computes each rule's points per lead (fit rules
    as CASE over lead columns, engagement rules as sums over a GROUP BY of touches)
    and their total; the UPDATE writes the rounded total and a breakdown whose JSON is
    assembled from constant fragments (parsed once per row). Leads stay HOT-updatable
    (score columns carry no index; see the fillfactor migration), which is what keeps
    a million-row rescore fast on PostgreSQL.
    """
    dialect = _Dialect(connection.vendor)
    rules = _rules(agreement)
    now_sql = dialect.now_param()
    now_value = now if dialect.pg else now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    select_cols: list[str] = []
    select_params: list[Any] = []
    eng_cols: list[str] = []
    eng_params: list[Any] = []
    parts: list[str] = []  # per rule: its breakdown entry's JSON text followed by ',' or ''
    part_params: list[Any] = []
    columns: list[str] = []
    for index, rule in enumerate(rules):
        label = rule.description or str(rule)
        col = f"r{index}"
        if rule.kind == RuleKind.FIT:
            predicate, params = rule_predicate(rule, dialect)
            select_cols.append(f"CASE WHEN {predicate} THEN %s END AS {col}")
            select_params += [*params, rule.points]
            parts.append(f"CASE WHEN s.{col} IS NOT NULL THEN %s ELSE '' END")
            part_params.append(f"{_entry_prefix(rule, label, 'fit')}{rule.points}}},")
            columns.append(col)
        elif rule.kind == RuleKind.ENGAGEMENT:
            eng_cols.append(
                f"SUM(CASE WHEN t.kind = %s THEN {dialect.decay(now_sql)} END) AS {col}"
            )
            eng_params += [
                rule.touch_kind,
                float(rule.points),
                now_value,
                float(rule.half_life_days or 1),
            ]
            select_cols.append(f"e.{col} AS {col}")
            points_text = f"CAST({dialect.round1(f's.{col}')} AS TEXT)"
            parts.append(
                f"CASE WHEN COALESCE(s.{col}, 0) <> 0 THEN %s || {points_text} || '}},' ELSE '' END"
            )
            part_params.append(_entry_prefix(rule, label, "engagement"))
            columns.append(col)
    total = " + ".join(f"COALESCE(s0.{c}, 0)" for c in columns) or "0"
    # Python's round() rounds halves to even; so does this.
    score_sql = (
        "CAST(CASE WHEN s.total - FLOOR(s.total) = 0.5 THEN 2 * ROUND(s.total / 2.0) "
        "ELSE ROUND(s.total) END AS INTEGER)"
    )
    breakdown_text = "'[' || RTRIM(" + " || ".join(parts) + ", ',') || ']'" if parts else "'[]'"
    lead_filter, filter_params = "", []
    if lead_ids is not None:
        if not lead_ids:
            return 0
        lead_filter = f" WHERE l.id IN ({', '.join(['%s'] * len(lead_ids))})"
        filter_params = list(lead_ids)
    join = ""
    join_params: list[Any] = []
    if eng_cols:
        kinds = sorted({r.touch_kind for r in rules if r.kind == RuleKind.ENGAGEMENT})
        touch_filter = f"t.kind IN ({', '.join(['%s'] * len(kinds))})"
        if lead_ids is not None:
            touch_filter += f" AND t.lead_id IN ({', '.join(['%s'] * len(lead_ids))})"
        join = (
            f" LEFT JOIN (SELECT t.lead_id, {', '.join(eng_cols)} FROM {TOUCH_TABLE} t "
            f"WHERE {touch_filter} GROUP BY t.lead_id) e ON e.lead_id = l.id"
        )
        join_params = [*eng_params, *kinds, *(lead_ids or [])]
    cols = ", ".join(["l.id AS id", *select_cols])
    sql = (
        f"UPDATE {LEAD_TABLE} SET score = {score_sql}, "
        f"score_breakdown = {dialect.json_value(breakdown_text)}, scored_at = %s "
        f"FROM (SELECT s0.*, ({total}) AS total FROM "
        f"(SELECT {cols} FROM {LEAD_TABLE} l{join}{lead_filter}) s0) s "
        f"WHERE {LEAD_TABLE}.id = s.id"
    )
    # Parameters in the order of the text: SET (breakdown parts, scored_at), then FROM.
    params = [
        *part_params,
        now if dialect.pg else now_value,
        *select_params,
        *join_params,
        *filter_params,
    ]
    with connection.cursor() as cursor:
        if not (dialect.pg and lead_ids is None):
            cursor.execute(sql, params)
            return cursor.rowcount
        with transaction.atomic():
            cursor.execute(
                "SELECT current_setting('work_mem'), set_config('work_mem', %s, true)",
                [RESCORE_WORK_MEM],
            )
            previous = cursor.fetchone()[0]
            cursor.execute(sql, params)
            rows = cursor.rowcount
            cursor.execute("SELECT set_config('work_mem', %s, true)", [previous])
            return rows


def _promotable_stages(agreement: Agreement) -> list[str]:
    """inquiry/recycled, where this version's funnel lets a lead move to mql."""
    return sorted(
        FunnelStage.objects.filter(
            agreement=agreement,
            key__in=[StageKey.INQUIRY, StageKey.RECYCLED],
            next_stages__key=StageKey.MQL,
        ).values_list("key", flat=True)
    )


def qualifying_lead_ids(
    *, agreement: Agreement, lead_ids: list[int] | None = None, limit: int | None = None
) -> list[int]:
    """Leads in inquiry/recycled at or above the threshold that pass every must rule."""
    dialect = _Dialect(connection.vendor)
    stages = _promotable_stages(agreement)
    if not stages:
        return []
    clauses = [f"l.stage IN ({', '.join(['%s'] * len(stages))})", "l.score >= %s"]
    params: list[Any] = [*stages, agreement.mql_threshold]
    # A recycled lead returns only after its rest period, on engagement since it was
    # recycled (the stage service's MQL criterion; see leads/services/criteria.py).
    clauses.append(
        "(l.stage <> %s OR ((l.rest_until IS NULL OR l.rest_until <= %s) AND EXISTS ("
        f"SELECT 1 FROM {TOUCH_TABLE} rt WHERE rt.lead_id = l.id"
        " AND (l.recycled_at IS NULL OR rt.occurred_at > l.recycled_at))))"
    )
    params += [StageKey.RECYCLED, timezone.now()]
    for rule in _rules(agreement):
        if rule.kind == RuleKind.MUST:
            predicate, rule_params = rule_predicate(rule, dialect)
            clauses.append(f"COALESCE(({predicate}), {'FALSE' if dialect.pg else '0'})")
            params += rule_params
    if lead_ids is not None:
        if not lead_ids:
            return []
        clauses.append(f"l.id IN ({', '.join(['%s'] * len(lead_ids))})")
        params += lead_ids
    sql = f"SELECT l.id FROM {LEAD_TABLE} l WHERE {' AND '.join(clauses)} ORDER BY l.id"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def leads_promote_qualifying(
    *, agreement: Agreement, now: datetime | None = None, limit: int | None = None
) -> tuple[int, int]:
    """Move qualifying leads to mql through the stage service, lead by lead.

    Each move is its own transaction (stage event, SLA clock, routing). Returns
    (candidates looked at, leads promoted). Safe to run twice: a promoted lead is no
    longer in inquiry/recycled; one moved by someone else meanwhile is skipped.
    """
    now = now or timezone.now()
    funnel = funnel_for(agreement=agreement)
    candidates = qualifying_lead_ids(agreement=agreement, limit=limit)
    promoted = 0
    for lead_id in candidates:
        lead = Lead.objects.filter(
            pk=lead_id, stage__in=[StageKey.INQUIRY, StageKey.RECYCLED]
        ).first()
        if lead is None:  # moved or deleted since the select: nothing to do
            continue
        if not lead_promote_if_qualified(lead=lead, funnel=funnel, at=now, name_version=True):
            continue
        promoted += 1
    return len(candidates), promoted


def agreement_rescore_all(
    *, agreement: Agreement, now: datetime | None = None, promote: bool = True
) -> RescoreResult:
    """Rescore every lead under `agreement` and make the newly qualifying ones MQLs.

    Running it twice rescores again (same result) and promotes nobody twice: a lead
    already in `mql` is no longer in inquiry/recycled.
    """
    now = now or timezone.now()
    with transaction.atomic():
        rescored = leads_rescore_sql(agreement=agreement, now=now)
    promoted = leads_promote_qualifying(agreement=agreement, now=now)[1] if promote else 0
    return RescoreResult(rescored=rescored, promoted=promoted)


def scores_decay_apply(*, now: datetime | None = None) -> RescoreResult:
    """The nightly job: engagement points decay with time, so rescore under the active version."""
    agreement = Agreement.objects.filter(status="active").first()
    if agreement is None:
        return RescoreResult(rescored=0, promoted=0)
    return agreement_rescore_all(agreement=agreement, now=now)


def agreement_rescore_active(*, agreement_id: int, promote: bool = True) -> int:
    """Rescore all leads if `agreement_id` is still the active version; else do nothing.

    With `promote`, the newly qualifying leads become MQLs too. Safe to run twice: the
    second run rescores to the same values and promotes nobody.
    """
    agreement = Agreement.objects.filter(pk=agreement_id, status=AgreementStatus.ACTIVE).first()
    if agreement is None:
        return 0
    return agreement_rescore_all(agreement=agreement, promote=promote).rescored
