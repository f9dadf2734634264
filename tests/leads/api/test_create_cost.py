"""A lead create over the API in at most 8 queries, and the cached reads it relies on
(config.generations: who a token is, the active funnel, webhook subscriptions) never
outlive a change."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from alignment.accounts.roles import Role
from alignment.models import QualificationRule, WebhookDelivery
from metrics.models import TerritoryCountry
from tests.factories import TerritoryFactory, WebhookSubscriptionFactory

pytestmark = pytest.mark.django_db

TABLES = ("alignment_agreement", "alignment_funnelstage", "alignment_qualificationrule",
          "alignment_reasoncode", "authtoken_token", "auth_permission",
          "alignment_userprofile", "alignment_webhooksubscription")  # fmt: skip


def _statements(ctx: CaptureQueriesContext) -> list[str]:
    """The statements that read or write rows (a savepoint is the test's transaction)."""
    return [
        q["sql"]
        for q in ctx.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


def _create(client, n: int, **extra):
    body = {"email": f"new{n}@acme.io", "company": "Acme", "country": "DE", **extra}
    return client.post("/api/v1/leads/", body, format="json", HTTP_IDEMPOTENCY_KEY=f"key-{n}")


def test_a_create_with_an_idempotency_key_costs_at_most_8_queries(
    active_agreement, marketer, api_client
):
    TerritoryCountry.objects.create(territory=TerritoryFactory(code="dach"), country="DE")
    client = api_client(marketer, token=True)
    assert _create(client, 0).status_code == 201  # the first fills the caches
    with CaptureQueriesContext(connection) as ctx:
        response = _create(client, 1)
    assert response.status_code == 201, response.content
    assert response.json()["stage"] == "inquiry" and response.json()["territory"]
    statements = _statements(ctx)
    assert len(statements) <= 8, "\n".join(statements)
    # The token, the user's permissions and profile, the agreement and its funnel, and
    # the webhook subscriptions come from the caches.
    assert not [s for s in statements if any(f'"{t}"' in s for t in TABLES)]


def test_a_revoked_token_or_a_removed_role_takes_effect_on_the_next_request(
    active_agreement, marketer, api_client
):
    client = api_client(marketer, token=True)
    assert client.get("/api/v1/leads/").status_code == 200
    marketer.groups.remove(Group.objects.get(name=Role.MARKETER))
    assert client.get("/api/v1/leads/").status_code == 403
    Token.objects.filter(user=marketer).delete()
    assert client.get("/api/v1/leads/").status_code == 401


def test_a_deactivated_user_is_refused_at_once(active_agreement, marketer, api_client):
    client = api_client(marketer, token=True)
    assert client.get("/api/v1/leads/").status_code == 200
    marketer.is_active = False
    marketer.save()
    assert client.get("/api/v1/leads/").status_code == 401


def test_a_rule_changed_in_the_admin_scores_the_next_create(active_agreement, marketer, api_client):
    client = api_client(marketer, token=True)
    before = _create(client, 0).json()["score"]
    # The admin can edit the active version's rules: the cached funnel follows.
    QualificationRule.objects.create(
        agreement=active_agreement, kind="fit", field="company", operator="eq",
        value="Acme", points=7,
    )  # fmt: skip
    assert _create(client, 1).json()["score"] == before + 7


def test_a_new_webhook_subscription_hears_the_next_create(active_agreement, marketer, api_client):
    client = api_client(marketer, token=True)
    assert _create(client, 0).status_code == 201
    assert not WebhookDelivery.objects.exists()
    WebhookSubscriptionFactory()
    assert _create(client, 1).status_code == 201
    assert WebhookDelivery.objects.filter(event="lead.created").count() == 1


def test_a_subscription_the_worker_disables_hears_nothing_more(
    active_agreement, marketer, api_client
):
    from alignment.webhooks.services import _disable

    client = api_client(marketer, token=True)
    subscription = WebhookSubscriptionFactory()
    assert _create(client, 0).status_code == 201  # cached: one subscriber
    _disable(subscription=subscription, error="410 Gone")  # an UPDATE, no signal
    assert _create(client, 1).status_code == 201
    assert WebhookDelivery.objects.filter(event="lead.created").count() == 1


def test_a_blank_external_id_is_no_id(active_agreement, marketer, api_client):
    client = api_client(marketer, token=True)
    for n in (0, 1):
        response = _create(client, n, external_id="")
        assert response.status_code == 201, response.content
        assert response.json()["external_id"] is None
