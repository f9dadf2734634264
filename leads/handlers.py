"""The leads app's reactions to events (config.events): work handed to the worker once
the change that asks for it has committed."""

from __future__ import annotations

import logging

from kombu.exceptions import OperationalError

from alignment.agreement.events import AgreementActivated
from config.events import subscriber
from leads.events import LeadImportQueued, SearchIndexGrew
from leads.imports.importer import search_index_settle
from leads.imports.services import lead_import_refused
from leads.services.rescoring import agreement_rescore_active
from leads.tasks import import_leads_file, rescore_all_leads, settle_search_index

logger = logging.getLogger(__name__)


@subscriber(AgreementActivated, on_commit=True)
def rescore_under_the_new_version(event: AgreementActivated) -> None:
    """Rescore every lead under the version that just became active, in the background.

    A million leads take about half a minute (docs/performance.md), too long for the
    signing request, so a Celery task does it. If the broker cannot take the task, it
    runs here instead: a late signature page beats leads scored under the old version.
    """
    try:
        rescore_all_leads.delay(event.agreement_id)
    except Exception:
        logger.exception(
            "Could not enqueue the rescoring of agreement %s; running it now.", event.agreement_id
        )
        agreement_rescore_active(agreement_id=event.agreement_id)


@subscriber(LeadImportQueued, on_commit=True)
def import_to_the_worker(event: LeadImportQueued) -> None:
    """Queue a background import; a broker that refuses it undoes the run (and raises, so
    the page or the API answers 503)."""
    try:
        import_leads_file.delay(event.import_id)
    except OperationalError:
        logger.warning("Broker unavailable: import %s was not queued", event.import_id)
        lead_import_refused(import_id=event.import_id, keep_upload=event.keep_upload)
        raise


@subscriber(SearchIndexGrew, on_commit=True)
def settle_the_search_index(event: SearchIndexGrew) -> None:
    """Merge the pending list in the background; if the broker cannot take it, here."""
    try:
        settle_search_index.delay()
    except Exception:
        logger.warning("Could not enqueue the search index's merge; merging it now.")
        search_index_settle()
