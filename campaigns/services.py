"""Writes of the campaigns app: campaigns, spend, touches, collateral, briefings, launch.

Pages, the API, the importer and Celery tasks all call these functions; the role
checks live here too, so every door refuses a rep the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from alignment.accounts.roles import touch_record_refusal
from alignment.agreement.selectors import agreement_active
from alignment.models import Agreement, StageKey
from alignment.notifications.services import notification_send
from campaigns.models import (
    Briefing,
    BriefingAcknowledgment,
    Campaign,
    CampaignStatus,
    Collateral,
    SpendCorrection,
    SpendEntry,
    Touch,
    TouchKind,
)
from campaigns.selectors import Readiness, campaign_acceptance_rates, campaign_readiness
from config.dates import (
    dates_collect,
    deployment_date,
    history_moment_check,
    iso_week,
    planned_date_check,
    week_start_of,
)
from config.formats import percent_format, period_format
from leads.models import Lead
from leads.services import lead_score_refresh
from metrics.definitions import MetricFilter

CAMPAIGN_FIELDS = [
    "name",
    "channel",
    "status",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "starts_on",
    "ends_on",
    "budget",
    "owner",
    "description",
]

ACCEPTANCE_EVENT = "campaign.acceptance_below_floor"


def _require(actor: User | None, perm: str) -> None:
    if actor is None or not actor.has_perm(perm):
        raise PermissionDenied(_("Only marketing can do this."))


def _clean(instance: Any, *, exclude: list[str] | None = None) -> None:
    """Model validation (fields and constraints) as a ValidationError with field keys."""
    instance.full_clean(exclude=exclude)


def campaign_statuses_allowed(*, campaign: Campaign | None) -> list[str]:
    """The statuses creating or editing a campaign may give it, in their order; the form
    offers only these. Going live is a launch (campaign_launch checks sales readiness), so
    "live" only once launched; a launched campaign does not go back to "planned"."""
    launched = campaign is not None and campaign.launched_at is not None
    refused = {CampaignStatus.PLANNED} if launched else {CampaignStatus.LIVE}
    return [status for status in CampaignStatus.values if status not in refused]


def _check_status(campaign: Campaign) -> None:
    if campaign.status in campaign_statuses_allowed(campaign=campaign):
        return
    if campaign.status == CampaignStatus.LIVE:
        raise ValidationError(
            {"status": [_("Launch the campaign from its page; sales readiness is checked there.")]}
        )
    raise ValidationError({"status": [_("A launched campaign cannot go back to planned.")]})


def _validate_campaign(campaign: Campaign) -> None:
    """Every field error at once; the database's constraints as errors on their fields."""
    errors: dict[str, list[str]] = {}
    try:
        campaign.full_clean(validate_constraints=False)
    except ValidationError as error:
        errors.update(error.message_dict)
    for name in ("starts_on", "ends_on"):  # planned dates: at most five years ahead
        try:
            planned_date_check(getattr(campaign, name), field=name)
        except ValidationError as error:
            errors.setdefault(name, []).extend(error.message_dict[name])
    if campaign.starts_on and campaign.ends_on and campaign.ends_on < campaign.starts_on:
        errors.setdefault("ends_on", []).append(_("The campaign cannot end before it starts."))
    if campaign.utm_campaign:
        clash = (
            Campaign.objects.filter(
                utm_source=campaign.utm_source,
                utm_medium=campaign.utm_medium,
                utm_campaign=campaign.utm_campaign,
            )
            .exclude(pk=campaign.pk)
            .first()
        )
        if clash:
            errors.setdefault("utm_campaign", []).append(
                _("Campaign “%(name)s” already uses these UTM tags.") % {"name": clash.name}
            )
    if errors:
        raise ValidationError(errors)
    campaign.validate_constraints()


def _check_owner(campaign: Campaign) -> None:
    owner = campaign.owner if campaign.owner_id else None
    if owner is not None and not owner.has_perm("campaigns.add_campaign"):
        raise ValidationError({"owner": [_("A campaign is owned by a marketer.")]})


# --- campaigns ---------------------------------------------------------------------------


def _apply(campaign: Campaign, data: dict[str, Any]) -> list | None:
    for name in CAMPAIGN_FIELDS:
        if name in data:
            value = data[name]
            if name == "owner" and value is None:
                continue  # no owner given: keep the current one (the creator on create)
            if isinstance(value, str) and name != "description":
                value = value.strip()
            setattr(campaign, name, value)
    return list(data["target_territories"]) if "target_territories" in data else None


@transaction.atomic
def campaign_create(*, actor: User | None, data: dict[str, Any]) -> Campaign:
    """Create a campaign (marketers only); the owner defaults to its creator."""
    _require(actor, "campaigns.add_campaign")
    campaign = Campaign()
    territories = _apply(campaign, data)
    if campaign.owner_id is None:
        campaign.owner = actor
    _check_owner(campaign)
    _check_status(campaign)
    _validate_campaign(campaign)
    campaign.save()
    if territories is not None:
        campaign.target_territories.set(territories)
    return campaign


@transaction.atomic
def campaign_update(*, campaign: Campaign, actor: User | None, data: dict[str, Any]) -> Campaign:
    """Change a campaign's own fields (marketers only); launch goes through campaign_launch."""
    _require(actor, "campaigns.change_campaign")
    territories = _apply(campaign, data)
    _check_owner(campaign)
    _check_status(campaign)
    _validate_campaign(campaign)
    campaign.save()
    if territories is not None:
        campaign.target_territories.set(territories)
    return campaign


# --- spend -------------------------------------------------------------------------------


def _decimal(value: Any, field: str) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationError({field: [_("Enter a number.")]}) from None


def spend_entry_add(
    *,
    campaign: Campaign,
    actor: User | None,
    date: date,
    amount: Decimal | str,
    note: str = "",
) -> SpendEntry:
    """Record money spent on a campaign on a day (marketers only)."""
    _require(actor, "campaigns.add_spendentry")
    entry = SpendEntry(
        campaign=campaign,
        date=date,
        amount=_decimal(amount, "amount"),
        note=(note or "").strip(),
        created_by=actor,
    )
    _clean(entry)
    entry.save()
    return entry


SPEND_REASON_MAX = 1000


def _spend_reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationError({"reason": [_("Say why: the reason is recorded with the change.")]})
    if len(text) > SPEND_REASON_MAX:
        raise ValidationError(
            {"reason": [_("At most %(n)s characters.") % {"n": SPEND_REASON_MAX}]}
        )
    return text


def _spend_values(entry: SpendEntry) -> dict[str, str]:
    """An entry's figures as a correction keeps them (exact strings: the amount, validated
    to at most two decimals, with both)."""
    amount = f"{Decimal(entry.amount):.2f}"
    return {"date": entry.date.isoformat(), "amount": amount, "note": entry.note}


@transaction.atomic
def spend_entry_correct(
    *,
    entry: SpendEntry,
    actor: User | None,
    reason: str,
    amount: Decimal | str | None = None,
    date: date | None = None,
) -> SpendCorrection:
    """Correct a spend entry's amount and/or date, recording who, when, why and what
    (SpendCorrection) in the same transaction: the page and the API's PATCH.

    Marketers only; a reason is required; an argument left None keeps that figure, and a
    correction that changes nothing is refused. The entry row is locked, so two
    corrections at once are recorded one after the other, each with its true "before".
    """
    _require(actor, "campaigns.change_spendentry")
    assert actor is not None
    text = _spend_reason(reason)
    locked = SpendEntry.objects.select_for_update().get(pk=entry.pk)
    before = _spend_values(locked)
    errors: dict[str, list[str]] = {}
    if date is not None:
        dates_collect(errors, history_moment_check, date, "date")
        locked.date = date
    if amount is not None:
        try:
            locked.amount = _decimal(amount, "amount")
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    _clean(locked)
    after = _spend_values(locked)
    changes = {
        name: {"before": before[name], "after": after[name]}
        for name in ("date", "amount")
        if before[name] != after[name]
    }
    if not changes:
        raise ValidationError(
            {"amount": [_("Nothing to correct: the amount and the date are as they were.")]}
        )
    locked.save(update_fields=["date", "amount"])
    entry.date, entry.amount = locked.date, locked.amount
    return SpendCorrection.objects.create(
        campaign_id=locked.campaign_id,
        record_id=locked.pk,
        action=SpendCorrection.Action.CORRECTED,
        changes=changes,
        reason=text,
        actor=actor,
    )


@transaction.atomic
def spend_entry_remove(*, entry: SpendEntry, actor: User | None, reason: str) -> SpendCorrection:
    """Remove a spend entry recorded by mistake, keeping what it was, who removed it, when
    and why (SpendCorrection): the page and the API's DELETE. Marketers only; a reason is
    required. An entry already removed raises SpendEntry.DoesNotExist (a 404)."""
    _require(actor, "campaigns.delete_spendentry")
    assert actor is not None
    text = _spend_reason(reason)
    locked = SpendEntry.objects.select_for_update().get(pk=entry.pk)
    correction = SpendCorrection.objects.create(
        campaign_id=locked.campaign_id,
        record_id=locked.pk,
        action=SpendCorrection.Action.REMOVED,
        changes={name: {"before": value, "after": None} for name, value in
                 _spend_values(locked).items()},
        reason=text,
        actor=actor,
    )  # fmt: skip
    locked.delete()
    return correction


# --- touches -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TouchRecorded:
    touch: Touch
    created: bool  # False: the source's event was already stored (same external_id)


def touch_record(
    *,
    lead: Lead,
    kind: str,
    occurred_at: datetime | None,
    actor: User | None = None,
    campaign: Campaign | None = None,
    external_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    rescore: bool = True,
) -> TouchRecorded:
    """Record an engagement touch and rescore the lead (it may become an MQL): the one
    entry for the API, the touch page, the admin and the demo.

    `actor` None is Accord itself (the demo); a person needs `campaigns.add_touch`
    (marketing). A lead without a first-touch campaign gets this touch's campaign as its
    first touch. A touch whose `external_id` is already stored is returned as it is
    (`created` False): pushing the same event twice records it once, rescores nothing.
    """
    refusal = touch_record_refusal(user=actor)
    if refusal:
        raise PermissionDenied(refusal)
    errors: dict[str, list[str]] = {}
    if kind not in TouchKind.values:
        errors["kind"] = [_("“%(kind)s” is not a touch kind.") % {"kind": kind}]
    if occurred_at is None:
        errors["occurred_at"] = [_("This field is required.")]
    else:
        dates_collect(errors, history_moment_check, occurred_at, "occurred_at")
    if errors:
        raise ValidationError(errors)
    assert occurred_at is not None
    external_id = (external_id or "").strip() or None
    if external_id:
        existing = Touch.objects.filter(external_id=external_id).first()
        if existing:
            return TouchRecorded(touch=existing, created=False)
    touch = Touch(
        lead=lead,
        campaign=campaign,
        kind=kind,
        occurred_at=occurred_at,
        external_id=external_id,
        metadata=metadata or {},
    )
    try:
        with transaction.atomic():
            touch.save()
    except IntegrityError:
        # Someone stored the same external id a moment ago: theirs is the touch.
        existing = Touch.objects.filter(external_id=external_id).first() if external_id else None
        if existing is None:
            raise
        return TouchRecorded(touch=existing, created=False)
    # Conditional, so two first touches at once leave the lead with one of them.
    if (
        campaign is not None
        and lead.campaign_id is None
        and Lead.objects.filter(pk=lead.pk, campaign__isnull=True).update(campaign=campaign)
    ):
        lead.campaign = campaign
    if rescore:
        lead_score_refresh(lead=lead)
    return TouchRecorded(touch=touch, created=True)


# --- collateral --------------------------------------------------------------------------


def collateral_add(
    *,
    actor: User | None,
    title: str,
    url: str = "",
    file: UploadedFile | None = None,
    campaign: Campaign | None = None,
    stage_key: str = "",
    description: str = "",
) -> Collateral:
    """Attach a link or a file for sales to a campaign and/or a funnel stage (marketers)."""
    _require(actor, "campaigns.add_collateral")
    if stage_key and stage_key not in StageKey.values:
        raise ValidationError({"stage_key": [_("Choose a funnel stage.")]})
    if campaign is None and not stage_key:
        raise ValidationError({"stage_key": [_("Attach it to a campaign or a stage.")]})
    if not (url or "").strip() and not file:
        raise ValidationError({"url": [_("Give a link or upload a file.")]})
    if file:
        collateral_file_check(file=file)
    item = Collateral(
        title=(title or "").strip(),
        url=(url or "").strip(),
        campaign=campaign,
        stage_key=stage_key,
        description=description or "",
        created_by=actor,
    )
    if file:
        item.file = file
    _clean(item)
    item.save()
    return item


COLLATERAL_EXTENSIONS = {
    # extension: the first bytes the file must start with (None: any text or binary)
    ".pdf": (b"%PDF",),
    ".png": (b"\x89PNG",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF8",),
    ".webp": (b"RIFF",),
    ".pptx": (b"PK\x03\x04",),
    ".docx": (b"PK\x03\x04",),
    ".xlsx": (b"PK\x03\x04",),
    ".key": (b"PK\x03\x04",),
    ".zip": (b"PK\x03\x04",),
    ".ppt": (b"\xd0\xcf\x11\xe0",),
    ".doc": (b"\xd0\xcf\x11\xe0",),
    ".xls": (b"\xd0\xcf\x11\xe0",),
    ".mp4": None,
    ".txt": None,
    ".csv": None,
    ".md": None,
}
# Served back from our own site, markup would run as our page: never accept it.
_MARKUP = (b"<!doctype", b"<html", b"<svg", b"<?xml", b"<script", b"<body", b"<head")


def collateral_file_check(*, file: UploadedFile) -> None:
    """A collateral file is a document, image or video of an allowed kind, size and content.

    ValidationError on the `file` field otherwise; nothing is stored.
    """

    limit = settings.COLLATERAL_MAX_BYTES
    if file.size is not None and file.size > limit:
        raise ValidationError(
            {"file": [_("The file is %(size)s; collateral may be at most %(max)s.")
                      % {"size": filesizeformat(file.size), "max": filesizeformat(limit)}]}
        )  # fmt: skip
    name = (file.name or "").lower()
    extension = name[name.rfind(".") :] if "." in name else ""
    if extension not in COLLATERAL_EXTENSIONS:
        raise ValidationError(
            {"file": [_("Upload a document, image or video (%(kinds)s).")
                      % {"kinds": ", ".join(sorted(COLLATERAL_EXTENSIONS))}]}
        )  # fmt: skip
    head = file.read(1024)
    file.seek(0)
    signatures = COLLATERAL_EXTENSIONS[extension]
    if signatures is not None and not head.startswith(signatures):
        raise ValidationError(
            {"file": [_("The file's content is not a %(ext)s file.") % {"ext": extension}]}
        )
    if head.lstrip().lower().startswith(_MARKUP):
        raise ValidationError({"file": [_("Web pages and SVG images cannot be collateral.")]})


def collateral_delete(*, collateral: Collateral, actor: User | None) -> None:
    """Remove a collateral item and, once that is committed, its stored file: a deck taken
    down is gone from the storage too. Deleting a file already gone is harmless."""
    _require(actor, "campaigns.delete_collateral")
    file = collateral.file
    collateral.delete()
    if file.name:  # an empty FieldFile is falsy by its name
        storage, name = file.storage, file.name
        transaction.on_commit(lambda: storage.delete(name))


# --- briefing and launch -----------------------------------------------------------------


@transaction.atomic
def briefing_save(*, campaign: Campaign, actor: User | None, body: str) -> Briefing:
    """Write or rewrite the sales briefing; acknowledgments already given are kept."""
    _require(actor, "campaigns.change_campaign")
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": [_("Write what sales needs to know.")]})
    briefing, _created = Briefing.objects.update_or_create(
        campaign=campaign, defaults={"body": body}
    )
    if briefing.published_at is None:
        briefing.published_at = timezone.now()
        briefing.save(update_fields=["published_at"])
    return briefing


def briefing_acknowledge(
    *, campaign: Campaign, user: User, at: datetime | None = None
) -> BriefingAcknowledgment:
    """A rep confirms having read the briefing; a second acknowledgment changes nothing."""
    _require(user, "campaigns.add_briefingacknowledgment")
    briefing = Briefing.objects.filter(campaign=campaign).first()
    if briefing is None:
        raise ValidationError({"briefing": [_("This campaign has no briefing yet.")]})
    ack, _created = BriefingAcknowledgment.objects.get_or_create(
        briefing=briefing, user=user, defaults={"acknowledged_at": at or timezone.now()}
    )
    return ack


class LaunchNeedsConfirmation(ValidationError):
    """Launching now would be below the agreed readiness; ask the marketer to confirm."""

    def __init__(self, readiness: Readiness) -> None:
        self.readiness = readiness
        super().__init__(
            {
                "confirm": [
                    _(
                        "Only %(ack)s of %(expected)s target reps acknowledged the briefing, "
                        "below the agreed %(threshold)s. Confirm to launch anyway."
                    )
                    % {
                        "ack": readiness.acknowledged,
                        "expected": readiness.expected,
                        "threshold": percent_format(readiness.threshold or 0),
                    }
                ]
            }
        )


@dataclass(frozen=True)
class LaunchResult:
    campaign: Campaign
    readiness: Readiness
    below_threshold: bool


@transaction.atomic
def campaign_launch(
    *,
    campaign: Campaign,
    actor: User | None,
    confirm_below_threshold: bool = False,
    at: datetime | None = None,
) -> LaunchResult:
    """Make a campaign live, recording how ready sales was.

    Below the active agreement's readiness threshold it raises LaunchNeedsConfirmation
    unless the caller confirms; a confirmed launch is recorded as below readiness. A
    campaign already launched is refused (the first launch's record stays).
    """
    _require(actor, "campaigns.change_campaign")
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if locked.launched_at is not None:
        raise ValidationError({"status": [_("This campaign has already been launched.")]})
    readiness = campaign_readiness(campaign=locked)
    below = not readiness.is_ready
    if below and not confirm_below_threshold:
        raise LaunchNeedsConfirmation(readiness)
    locked.status = CampaignStatus.LIVE
    locked.launched_at = at or timezone.now()
    locked.launched_by = actor
    locked.readiness_at_launch = readiness.ratio
    locked.launched_below_readiness = below
    locked.save(
        update_fields=[
            "status",
            "launched_at",
            "launched_by",
            "readiness_at_launch",
            "launched_below_readiness",
        ]
    )
    for name in ("status", "launched_at", "launched_by_id", "readiness_at_launch"):
        setattr(campaign, name, getattr(locked, name))
    campaign.launched_below_readiness = below
    return LaunchResult(campaign=locked, readiness=readiness, below_threshold=below)


# --- the closed loop ---------------------------------------------------------------------


def campaign_acceptance_flag(
    *,
    campaign: Campaign,
    rate: Decimal | float | None,
    agreement: Agreement | None = None,
    week: date | None = None,
) -> bool:
    """Tell the owner, once per scoring week, that sales accepts this campaign's leads below
    the agreed floor.

    `week` is any day of the scoring period (an ISO week, Monday 00:00 in the deployment's
    time zone; default: this week). Returns whether the campaign is below the floor. Running
    it again in the same week notifies nobody twice (notification_send dedupes on the
    campaign and the week); below the floor again next week, the owner is told again.
    """
    agreement = agreement or agreement_active()
    if agreement is None or rate is None:
        return False
    floor = agreement.acceptance_floor
    if Decimal(str(rate)) >= floor:
        return False
    monday = week_start_of(week)
    year, number = iso_week(monday)
    notification_send(
        recipients=[campaign.owner],
        event=ACCEPTANCE_EVENT,
        dedupe_key=f"campaign:{campaign.pk}:week:{monday.isoformat()}",
        title=lambda: (
            _("Sales accepts few leads of “%(name)s” in week %(week)d, %(year)d")
            % {"name": campaign.name, "week": number, "year": year}
        ),
        body=lambda: (
            _(
                "In the scoring week %(period)s, only %(rate)s of this campaign's MQLs of the "
                "last %(days)d days were accepted by sales, below the agreed floor of "
                "%(floor)s. See the rejection reasons on the campaign page."
            )
            % {
                "period": period_format(monday, monday + timedelta(days=6)),
                "rate": percent_format(rate),
                "days": ACCEPTANCE_WINDOW_DAYS,
                "floor": percent_format(floor),
            }
        ),
        url=reverse("campaigns:detail", args=[campaign.pk]),
    )
    return True


# Sales' verdict on a campaign's leads is judged over this trailing window.
ACCEPTANCE_WINDOW_DAYS = 90


def campaigns_acceptance_check(*, today: date | None = None) -> list[int]:
    """Flag every campaign whose MQLs sales accepted below the floor (trailing window).

    `today` is the deployment's day the check runs for (default: today); its ISO week is
    the scoring period the flags belong to. Returns the ids of the campaigns below the
    floor. Safe to run twice: each owner is notified once per campaign and scoring week,
    and again in a later week if the campaign is still below the floor.
    """

    agreement = agreement_active()
    if agreement is None:
        return []
    today = today or deployment_date()
    end = today + timedelta(days=1)
    f = MetricFilter(start=end - timedelta(days=ACCEPTANCE_WINDOW_DAYS), end=end)
    rates = campaign_acceptance_rates(f=f)
    below = [
        pk
        for pk, rate in rates.items()
        if rate is not None and Decimal(str(rate)) < agreement.acceptance_floor
    ]
    flagged = []
    for campaign in Campaign.objects.filter(pk__in=below).select_related("owner"):
        if campaign_acceptance_flag(
            campaign=campaign, rate=rates[campaign.pk], agreement=agreement, week=today
        ):
            flagged.append(campaign.pk)
    return sorted(flagged)
