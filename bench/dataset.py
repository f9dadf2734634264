"""Build a benchmark data set in PostgreSQL quickly, with INSERT ... SELECT generate_series.

Leads get a spread of titles, sizes, sources, countries and stages; about two touches
per lead spread over the last 120 days. Everything is generated inside the database,
so a million leads take seconds, not hours. Bench rows have emails @bench.accord.test.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import connection

SCALES = {"tiny": 500, "small": 10_000, "100k": 100_000, "1m": 1_000_000}
TOUCHES_PER_LEAD = 2


@dataclass
class Dataset:
    scale: str
    leads: int
    touches: int
    build_seconds: float
    server_version: str


def scale_size(scale: str) -> int:
    try:
        return SCALES[scale.lower()]
    except KeyError:
        raise SystemExit(f"Unknown SCALE={scale!r}; use one of: {', '.join(SCALES)}.") from None


def dataset_build(*, scale: str) -> Dataset:
    """Replace all leads and touches with a generated set of `scale` leads."""
    from alignment.services import agreement_create_default

    agreement_create_default()
    n = scale_size(scale)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE campaigns_touch, leads_stageevent, leads_followup, leads_slabreach, "
            "leads_deal, leads_lead RESTART IDENTITY CASCADE"
        )
        cursor.execute(
            f"""
            INSERT INTO leads_lead (
                email, first_name, last_name, company, title, phone, country, industry,
                company_size, source, stage, score, score_breakdown, custom_fields,
                created_at, updated_at, inquiry_at, stage_entered_at
            )
            SELECT
                'lead' || g || '@bench.accord.test',
                'First' || g, 'Last' || g,
                CASE WHEN g % 17 = 0 THEN '' ELSE 'Company ' || (g % 50000) END,
                (ARRAY['Head of Sales', 'Marketing Director', 'Engineer', 'Analyst',
                       'VP Sales', 'Student', 'Head of IT', 'Office manager'])[1 + g % 8],
                CASE WHEN g % 3 = 0 THEN '' ELSE '+48 600 ' || g END,
                (ARRAY['PL', 'DE', 'FR', 'US', 'GB', 'ES'])[1 + g % 6],
                (ARRAY['Software', 'Retail', 'Finance', 'Health', ''])[1 + g % 5],
                CASE WHEN g % 11 = 0 THEN NULL ELSE (g * 37) % 2000 END,
                (ARRAY['referral', 'event', 'paid_search', 'organic_search', 'email',
                       'social', 'unknown'])[1 + g % 7],
                (ARRAY['inquiry', 'inquiry', 'inquiry', 'inquiry', 'recycled', 'mql',
                       'sal', 'sql', 'opportunity', 'won', 'lost', 'disqualified'])[1 + g % 12],
                0, '[]'::jsonb,
                jsonb_build_object('seats', g % 40),
                now() - ((g % 365) || ' days')::interval,
                now(),
                now() - ((g % 365) || ' days')::interval,
                now() - ((g % 365) || ' days')::interval
            FROM generate_series(1, {int(n)}) AS g
            """
        )
        cursor.execute(
            f"""
            INSERT INTO campaigns_touch (lead_id, kind, occurred_at, metadata, created_at)
            SELECT
                1 + (g::bigint * 7919) % {int(n)},
                (ARRAY['demo_request', 'pricing_visit', 'webinar', 'content_download',
                       'page_visit', 'email_click'])[1 + g % 6],
                now() - ((g % 120) || ' days')::interval - ((g % 1440) || ' minutes')::interval,
                '{{}}'::jsonb,
                now()
            FROM generate_series(1, {int(n * TOUCHES_PER_LEAD)}) AS g
            """
        )
        cursor.execute("ANALYZE leads_lead")
        cursor.execute("ANALYZE campaigns_touch")
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    return Dataset(
        scale=scale,
        leads=n,
        touches=n * TOUCHES_PER_LEAD,
        build_seconds=time.perf_counter() - started,
        server_version=version,
    )
