"""Thin DRF views and serializers of leads; rules live in leads.services and the importer.

Routes: leads/ (list with filters and cursor pagination, create or ?upsert=true),
leads/{id}/ (detail with score breakdown, stage history and SLA clock; PATCH; DELETE)
leads/import/ (CSV upload or JSON list, per-row report, ?dry_run=true; large imports answer
202 and run on the worker) and leads/import/{id}/ (an import run's status and results).
"""

from __future__ import annotations

from typing import Any

from django.core.validators import EmailValidator
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.urls import path, reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from alignment.accounts.roles import lead_import_refusal, lead_merge_refusal
from config.api import (
    FIELD_ERRORS,
    ErrorSerializer,
    FieldsOnceMixin,
    LargeCursorPagination,
    RoleModelPermissions,
    StandardPagination,
)
from config.filters import FilterBackend, IdFilter
from config.parsers import DepthLimitedJSONParser
from leads.filters import LeadFilter
from leads.imports.importer import (
    ROW_STATUSES,
    ImportFileError,
    ImportResult,
    import_file_check,
    rows_from_file,
)
from leads.imports.services import (
    import_file_runs_inline,
    import_rows_run_inline,
    import_run_failure_message,
    import_upload_save,
    lead_import_check,
    lead_import_start,
)
from leads.models import STAGE_MOMENTS, Lead, LeadEdit, LeadImport, StageEvent
from leads.selectors import lead_import_visible
from leads.services import (
    LeadConflict,
    lead_create,
    lead_delete,
    lead_find_by_email,
    lead_update,
    lead_upsert,
)
from leads.services.merge import lead_forwarded_to, lead_merge

# --- error shapes in the schema ---------------------------------------------------------


class ConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    id = serializers.IntegerField(required=False, help_text="The existing lead's id.")


UNAUTHORIZED = OpenApiResponse(ErrorSerializer, description="No or invalid credentials.")
FORBIDDEN = OpenApiResponse(ErrorSerializer, description="Your role may not do this.")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such lead.")
CONFLICT = OpenApiResponse(
    ConflictSerializer, description="A lead with this email (any case) or external id exists."
)


class LeadApiFilter(LeadFilter):
    """The pages' filters; owner and territory by id (an unknown id matches nothing)."""

    owner = IdFilter(field_name="owner_id", label="Owner (user id)")
    territory = IdFilter(field_name="territory_id", label="Territory id")
    campaign = IdFilter(field_name="campaign_id", label="First-touch campaign id")


# --- serializers ------------------------------------------------------------------------

# Set only by the stage service, assignment and scoring: never by PATCH.
READ_ONLY_FIELDS = ["owner", "territory", "stage", "score", "created_by", "qualified_under"]


@extend_schema_field({"type": "string", "maxLength": 254, "description": "Email address."})
class EmailText(serializers.CharField):
    """A validated email, a plain string in the schema: stored addresses may have
    non-ASCII local parts, which JSON Schema's "email" format rejects."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=254, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        EmailValidator()(value)
        return value


class LeadSerializer(FieldsOnceMixin, serializers.ModelSerializer):
    email = EmailText()
    utm_source = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=100
    )
    utm_medium = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=100
    )
    utm_campaign = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="With utm_source/utm_medium: sets the first-touch campaign when none is given.",
    )
    custom_fields = serializers.DictField(required=False)

    class Meta:
        model = Lead
        fields = [
            "id",
            "email",
            "external_id",
            "first_name",
            "last_name",
            "company",
            "title",
            "phone",
            "country",
            "industry",
            "company_size",
            "source",
            "campaign",
            "owner",
            "territory",
            "stage",
            "score",
            "custom_fields",
            "created_at",
            "updated_at",
            "utm_source",
            "utm_medium",
            "utm_campaign",
        ]
        read_only_fields = ["owner", "territory", "stage", "score", "created_at", "updated_at"]
        # Uniqueness (email in any case, external id) is the service's to answer: 409, or
        # with ?upsert=true an update of the lead these keys name.
        validators: list = []
        extra_kwargs = {"external_id": {"validators": []}}


class StageEventSerializer(FieldsOnceMixin, serializers.ModelSerializer):
    class Meta:
        model = StageEvent
        fields = [
            "id",
            "from_stage",
            "to_stage",
            "occurred_at",
            "actor",
            "reason_code",
            "reason",
            "source",
            "agreement",
        ]


class ScoreLineSerializer(serializers.Serializer):
    """One rule's points; older breakdowns may lack the rule id and kind."""

    rule_id = serializers.IntegerField(allow_null=True, required=False)
    rule = serializers.CharField()
    kind = serializers.CharField(required=False)
    points = serializers.FloatField()


class LeadDetailSerializer(LeadSerializer):
    score_breakdown = ScoreLineSerializer(many=True, read_only=True)
    stage_history = StageEventSerializer(many=True, read_only=True, source="stage_events")

    class Meta(LeadSerializer.Meta):
        fields = [
            *LeadSerializer.Meta.fields,
            "score_breakdown",
            "scored_at",
            "stage_history",
            "sla_due_at",
            "stage_entered_at",
            *STAGE_MOMENTS,
            "assigned_at",
            "first_follow_up_at",
            "last_activity_at",
            "next_follow_up_at",
            "qualified_under",
            "created_by",
        ]
        read_only_fields = [
            *LeadSerializer.Meta.read_only_fields,
            *[f for f in fields if f not in LeadSerializer.Meta.fields],
        ]


# The list's columns: LeadSerializer's readable fields (foreign keys as their ids).
LIST_COLUMNS = [
    "id", "email", "external_id", "first_name", "last_name", "company", "title", "phone",
    "country", "industry", "company_size", "source", "campaign_id", "owner_id",
    "territory_id", "stage", "score", "custom_fields", "created_at", "updated_at",
]  # fmt: skip
_MOMENT = serializers.DateTimeField()


def lead_list_row(row: dict[str, Any]) -> dict[str, Any]:
    """One lead of the list as LeadSerializer represents it, from its values()."""
    return {
        **{name: row[name] for name in LIST_COLUMNS[:11]},
        "source": row["source"],
        "campaign": row["campaign_id"],
        "owner": row["owner_id"],
        "territory": row["territory_id"],
        "stage": row["stage"],
        "score": row["score"],
        "custom_fields": row["custom_fields"],
        "created_at": _MOMENT.to_representation(row["created_at"]),
        "updated_at": _MOMENT.to_representation(row["updated_at"]),
    }


# --- views --------------------------------------------------------------------------------


@extend_schema(tags=["leads"])
class LeadListCreate(generics.ListCreateAPIView):
    """Every lead (filters below); POST creates one in `inquiry` and scores it."""

    queryset = Lead.objects.all()
    serializer_class = LeadSerializer
    permission_classes = [RoleModelPermissions]
    pagination_class = LargeCursorPagination
    filter_backends = [FilterBackend]
    filterset_class = LeadApiFilter

    @extend_schema(
        summary="List leads",
        responses={200: LeadSerializer(many=True), 400: FIELD_ERRORS, 401: UNAUTHORIZED,
                   403: FORBIDDEN},
    )  # fmt: skip
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The page's rows as values, each made into LeadSerializer's representation by
        # lead_list_row: no model instances, no serializer per lead (half of a list
        # request's time at 50 leads); tests hold the two to the same output.
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset.values(*LIST_COLUMNS))
        rows = [lead_list_row(row) for row in page or []]
        return self.get_paginated_response(rows)

    @extend_schema(
        summary="Create a lead (or update it with ?upsert=true)",
        parameters=[
            OpenApiParameter(
                "upsert",
                OpenApiTypes.BOOL,
                description="Update the lead with this email (any case) or external id "
                "instead of answering 409.",
            ),
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Replays the first response for the same key and body.",
            ),
        ],
        responses={
            201: LeadDetailSerializer,
            200: OpenApiResponse(LeadDetailSerializer, description="Upserted an existing lead."),
            400: FIELD_ERRORS,
            401: UNAUTHORIZED,
            403: FORBIDDEN,
            409: CONFLICT,
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = LeadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        upsert = request.query_params.get("upsert", "").lower() in {"1", "true", "yes"}
        try:
            if upsert:
                lead, outcome = lead_upsert(
                    data=data, actor=request.user, source=StageEvent.Source.API
                )
            else:
                lead, outcome = (
                    lead_create(data=data, actor=request.user, source=StageEvent.Source.API),
                    "created",
                )
        except IntegrityError:
            # Lost a race with a concurrent create of the same email / external id.
            existing = lead_find_by_email(data.get("email") or "")
            raise LeadConflict(
                _("A lead with this email already exists."),
                lead_id=existing.pk if existing else None,
            ) from None
        code = status.HTTP_201_CREATED if outcome == "created" else status.HTTP_200_OK
        return Response(LeadDetailSerializer(_detail(lead.pk)).data, status=code)


def _detail_queryset():
    return Lead.objects.prefetch_related(
        Prefetch("stage_events", queryset=StageEvent.objects.order_by("occurred_at", "id"))
    )


def _detail(pk: int) -> Lead:
    return _detail_queryset().get(pk=pk)


@extend_schema(tags=["leads"])
class LeadDetail(generics.RetrieveUpdateDestroyAPIView):
    """One lead with its score breakdown (rule → points), stage history and SLA clock."""

    serializer_class = LeadDetailSerializer
    permission_classes = [RoleModelPermissions]
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return _detail_queryset()

    @extend_schema(
        summary="A lead in full",
        responses={200: LeadDetailSerializer, 401: UNAUTHORIZED, 403: FORBIDDEN, 404: NOT_FOUND},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return _forwarded(request, kwargs["pk"]) or super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Change a lead's own fields",
        description="owner, territory, stage, score, created_by and qualified_under are "
        "read-only: sending a different value is refused with 400 (stage changes go "
        "through leads/{id}/transition/; assignment through the sales endpoints).",
        responses={
            200: LeadDetailSerializer,
            400: FIELD_ERRORS,
            401: UNAUTHORIZED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: CONFLICT,
        },
    )
    def patch(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        forwarded = _forwarded(request, kwargs["pk"])
        if forwarded is not None:
            return forwarded
        lead = self.get_object()
        refused = _read_only_changes(lead=lead, data=request.data)
        if refused:
            return Response(refused, status=status.HTTP_400_BAD_REQUEST)
        serializer = LeadSerializer(lead, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        for key in ("utm_source", "utm_medium", "utm_campaign"):
            data.pop(key, None)
        try:
            lead_update(lead=lead, data=data, actor=request.user, source=LeadEdit.Source.API)
        except IntegrityError:
            raise LeadConflict(_("Another lead already has this email or external id.")) from None
        return Response(LeadDetailSerializer(_detail(lead.pk)).data)

    @extend_schema(
        summary="Delete a lead",
        responses={
            204: None,
            401: UNAUTHORIZED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: OpenApiResponse(ConflictSerializer, description="The lead has deals."),
        },
    )
    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        forwarded = _forwarded(request, kwargs["pk"])
        if forwarded is not None:
            return forwarded
        lead = self.get_object()
        with transaction.atomic():
            lead_delete(lead=lead)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _forwarded(request: Request, pk: int) -> Response | None:
    """A merged lead's old id: a redirect to its survivor (GET 301, other methods 308)."""
    if Lead.objects.filter(pk=pk).exists():
        return None
    survivor = lead_forwarded_to(lead_id=pk)
    if survivor is None:
        return None
    code = status.HTTP_301_MOVED_PERMANENTLY if request.method in ("GET", "HEAD") else 308
    return Response(
        {
            "detail": _("Lead %(old)s was merged into lead %(new)s.")
            % {"old": pk, "new": survivor},
            "id": survivor,
        },
        status=code,
        headers={"Location": request.build_absolute_uri(reverse("api-lead", args=[survivor]))},
    )


class MergeSerializer(serializers.Serializer):
    duplicate = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        help_text="The lead to merge into this one; its history moves here and its id "
        "forwards here.",
    )
    reason = serializers.CharField(max_length=2000, help_text="Why they are the same person.")


class LeadMergeResponseSerializer(serializers.Serializer):
    lead = LeadDetailSerializer()
    merged_lead = serializers.IntegerField()
    moved = serializers.DictField(child=serializers.IntegerField())


@extend_schema(tags=["leads"])
class LeadMergeView(generics.GenericAPIView):
    """Merge a duplicate into this lead (a sales or marketing manager).

    Every stage event, follow-up, SLA breach, correction, deal, touch, intel note,
    dispute and edit of the duplicate moves to this lead; this lead's blank details are
    filled from it; the funnel position is that of the lead that moved last. The
    duplicate's id then answers with a redirect here, and its e-mail and external id,
    sent to ?upsert=true or an import, update this lead. 400 with field errors when the
    merge would break the funnel's rules (nothing changes).
    """

    permission_classes = [IsAuthenticated]
    serializer_class = MergeSerializer

    @extend_schema(
        summary="Merge a duplicate lead into this one",
        request=MergeSerializer,
        responses={
            200: LeadMergeResponseSerializer,
            400: FIELD_ERRORS,
            401: UNAUTHORIZED,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
    )
    def post(self, request: Request, pk: int, *args: Any, **kwargs: Any) -> Response:
        refusal = lead_merge_refusal(user=request.user)
        if refusal:
            raise PermissionDenied(refusal)
        survivor = Lead.objects.filter(pk=pk).first()
        if survivor is None:
            raise NotFound(_("No such lead."))
        body = MergeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        duplicate = Lead.objects.filter(pk=body.validated_data["duplicate"]).first()
        if duplicate is None:
            return Response(
                {"duplicate": [_("There is no lead with this id.")]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        result = lead_merge(
            survivor=survivor,
            duplicate=duplicate,
            actor=request.user,
            reason=body.validated_data["reason"],
        )
        return Response(
            {
                "lead": LeadDetailSerializer(_detail(survivor.pk)).data,
                "merged_lead": result.merge.merged_lead_id,
                "moved": result.merge.moved,
            }
        )


def _read_only_changes(*, lead: Lead, data: Any) -> dict[str, list[str]]:
    """Read-only fields sent with a value other than the lead's: refused, not ignored."""
    if not hasattr(data, "get"):
        return {}
    errors: dict[str, list[str]] = {}
    for name in READ_ONLY_FIELDS:
        if name not in data:
            continue
        current = getattr(lead, name if name in ("stage", "score") else f"{name}_id")
        sent = data.get(name)
        if sent is None and current is None:
            continue
        if str(sent) != str(current):
            errors[name] = [
                _(
                    "This field is read-only: stage changes go through "
                    "leads/{id}/transition/, owners through assignment, scores through "
                    "the agreement's criteria."
                )
            ]
    return errors


# --- import -------------------------------------------------------------------------------


class ImportRowErrorSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The column at fault ('' for the whole row).")
    message = serializers.CharField()


class ImportRowSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="1 is the first row after the header.")
    status = serializers.ChoiceField(
        choices=ROW_STATUSES,
        help_text="warning: a lead was created from the row with something in it put right "
        "(dates out of funnel order, a won lead without a deal amount); see warnings.",
    )
    id = serializers.IntegerField(required=False)
    errors = ImportRowErrorSerializer(many=True, required=False)
    warnings = ImportRowErrorSerializer(
        many=True, required=False, help_text="What was put right, by column."
    )


class ImportResultSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The import run (its report stays downloadable).")
    status_url = serializers.URLField(help_text="The run's status URL (leads/import/{id}/).")
    dry_run = serializers.BooleanField()
    total = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    errors = serializers.IntegerField()
    warnings = serializers.IntegerField(
        help_text="Rows created with a warning (counted among created too)."
    )
    results = ImportRowSerializer(many=True)


class ImportRunSerializer(serializers.Serializer):
    """An import run as it stands: status, progress, counts and a page of its rows."""

    id = serializers.IntegerField()
    status_url = serializers.URLField()
    status = serializers.ChoiceField(
        choices=LeadImport.Status.choices,
        help_text="pending (queued for the worker), running, done or failed.",
    )
    dry_run = serializers.BooleanField()
    filename = serializers.CharField()
    rows_total = serializers.IntegerField(
        allow_null=True, help_text="Rows in the file, once the worker has counted them."
    )
    rows_done = serializers.IntegerField(
        help_text="Rows decided so far; rows 1 to rows_done are committed (unless dry_run), "
        "also when the run failed."
    )
    total = serializers.IntegerField(help_text="The same as rows_done.")
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    errors = serializers.IntegerField()
    warnings = serializers.IntegerField(
        help_text="Rows created with a warning (counted among created too)."
    )
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    heartbeat_at = serializers.DateTimeField(
        allow_null=True, help_text="The run's last sign of life (moves with every batch)."
    )
    finished_at = serializers.DateTimeField(allow_null=True)
    failure = serializers.ChoiceField(
        choices=[("", "—"), *LeadImport.Failure.choices],
        help_text="Why a failed run stopped: stalled (its worker was lost: silent past "
        "the stale limit), time_limit, error, upload_missing, not_started.",
    )
    failure_detail = serializers.CharField(
        help_text="What a failed run means: what stopped it and which rows are in."
    )
    count = serializers.IntegerField(help_text="Row results kept for the run.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ImportRowSerializer(
        many=True,
        help_text="A page of the per-row results (?page=, ?page_size= up to 500), filled in "
        "when the run ends: every row up to 100,000, then the rows with errors or warnings.",
    )


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV (header row) or JSON (array or JSON Lines).")


def _status_url(request: Request, record: LeadImport) -> str:
    return request.build_absolute_uri(reverse("api-lead-import-run", args=[record.pk]))


def import_result_data(result: ImportResult, *, request: Request) -> dict[str, Any]:
    assert result.record is not None
    return {
        "id": result.record.pk,
        "status_url": _status_url(request, result.record),
        "dry_run": result.dry_run,
        "total": result.total,
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "errors": result.errors,
        "warnings": result.warnings,
        "results": [r.as_dict() for r in result.results],
    }


def import_run_data(record: LeadImport, *, request: Request) -> dict[str, Any]:
    """The run without its rows (the status view adds a page of them)."""
    failed = record.status == LeadImport.Status.FAILED
    return {
        "id": record.pk,
        "status_url": _status_url(request, record),
        "status": record.status,
        "dry_run": record.dry_run,
        "filename": record.filename,
        "rows_total": record.rows_expected,
        "rows_done": record.total_rows,
        "total": record.total_rows,
        "created": record.created_count,
        "updated": record.updated_count,
        "unchanged": record.unchanged_count,
        "errors": record.error_count,
        "warnings": record.warning_count,
        "created_at": record.created_at,
        "started_at": record.started_at,
        "heartbeat_at": record.heartbeat_at,
        "finished_at": record.finished_at,
        "failure": record.failure,
        "failure_detail": import_run_failure_message(record) if failed else "",
    }


INLINE_RULE = (
    "An import of at most LEAD_IMPORT_INLINE_MAX_ROWS rows (default 2,000) whose file is at "
    "most LEAD_IMPORT_INLINE_MAX_BYTES (default 2 MB) runs within the request and answers "
    "200 with every row's result. A larger one, dry run or not, answers 202 Accepted at once "
    "and runs on the background worker: the Location header and `status_url` name the run's "
    "status URL (GET leads/import/{id}/), which shows its progress (rows_done of rows_total, "
    "counts, status) and, once it has ended, a page of the same per-row results. A run whose "
    "worker dies is marked failed after LEAD_IMPORT_STALE_SECONDS without a sign of life; "
    "rows 1 to rows_done are committed either way."
)


@extend_schema(tags=["leads"])
class LeadImportView(generics.GenericAPIView):
    """Import leads from a CSV/JSON file or a JSON list of rows, with a per-row result."""

    permission_classes = [IsAuthenticated]
    parser_classes = [DepthLimitedJSONParser, MultiPartParser]
    serializer_class = ImportResultSerializer

    @extend_schema(
        summary="Import leads (upsert by external_id, else email in any case)",
        description="Columns: the lead fields plus history (created_at, stage, mql_at, "
        "sal_at, sql_at, opportunity_at, won_at, lost_at, lost_reason, owner_email, "
        "campaign or utm_source/utm_medium/utm_campaign, source, deal_amount). Valid rows "
        "are kept when others fail; importing the same rows again changes nothing. A row "
        "whose stage times run against the funnel is imported with them put in order (each "
        "raised to the stage before it) and the status warning; times must lie between "
        "1970-01-01 and a day from now.\n\n" + INLINE_RULE + "\n\nA request body over "
        "REQUEST_MAX_BYTES (without valid credentials: ANONYMOUS_REQUEST_MAX_BYTES) is "
        "refused with 413 before it is read.",
        parameters=[
            OpenApiParameter(
                "dry_run", OpenApiTypes.BOOL, description="Report what would happen; write nothing."
            ),
            OpenApiParameter(
                "Location",
                OpenApiTypes.URI,
                OpenApiParameter.HEADER,
                response=[202],
                description="The run's status URL.",
            ),
        ],
        request={
            "multipart/form-data": ImportUploadSerializer,
            "application/json": {
                "type": "array",
                "items": {"type": "object", "additionalProperties": True},
                "description": "Rows as objects keyed by column.",
            },
        },
        responses={
            200: OpenApiResponse(
                ImportResultSerializer, description="A small import, done: every row's result."
            ),
            202: OpenApiResponse(
                ImportRunSerializer,
                description="A large import, queued for the worker: follow status_url.",
            ),
            400: FIELD_ERRORS,
            401: UNAUTHORIZED,
            403: FORBIDDEN,
            413: OpenApiResponse(FIELD_ERRORS.response, description="The file is too large."),
            503: OpenApiResponse(
                ErrorSerializer,
                description="The background worker's queue is unreachable: nothing was "
                "started; send the import again shortly.",
            ),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        refusal = lead_import_refusal(user=request.user)  # before reading a byte of the file
        if refusal:
            raise PermissionDenied(refusal)
        dry_run = request.query_params.get("dry_run", "").lower() in {"1", "true", "yes"}
        if isinstance(request.data, list):
            # An item that is no object is that row's error, as in a JSON file.
            rows = [r if isinstance(r, dict) else {"__invalid__": r} for r in request.data]
            name = "api.json"
            if import_rows_run_inline(rows=rows):
                started = lead_import_start(
                    user=request.user, filename=name, rows=rows, dry_run=dry_run
                )
            else:
                started = lead_import_start(
                    user=request.user, filename=name, rows=rows, dry_run=dry_run, background=True
                )
        else:
            upload = request.FILES.get("file") if hasattr(request.data, "get") else None
            if upload is None:
                return Response(
                    {"file": [_("Upload a CSV or JSON file, or send a JSON list of rows.")]},
                    status=status.HTTP_400_BAD_REQUEST,
                )
            name = upload.name or "upload.csv"
            try:
                import_file_check(stream=upload.file, name=name, size=upload.size)
            except ImportFileError as exc:
                code = (
                    status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
                    if exc.code == "too_large"
                    else status.HTTP_400_BAD_REQUEST
                )
                return Response({"file": [str(exc)]}, status=code)
            if import_file_runs_inline(stream=upload.file, name=name, size=upload.size):
                started = lead_import_start(
                    user=request.user,
                    filename=name,
                    rows=rows_from_file(upload.file, name=name),
                    dry_run=dry_run,
                )
            else:
                started = lead_import_start(
                    user=request.user,
                    filename=name,
                    upload=import_upload_save(stream=upload, name=name),
                    dry_run=dry_run,
                    background=True,
                )
        if started.result is not None:
            return Response(import_result_data(started.result, request=request))
        body = {
            **import_run_data(started.record, request=request),
            "count": 0,
            "next": None,
            "previous": None,
            "results": [],
        }
        return Response(
            body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["status_url"]}
        )


@extend_schema(tags=["leads"])
class LeadImportRunView(generics.GenericAPIView):
    """An import run's status URL: progress while it runs, then its per-row results."""

    permission_classes = [IsAuthenticated]
    serializer_class = ImportRunSerializer
    pagination_class = StandardPagination

    @extend_schema(
        summary="An import run: status, progress and a page of its per-row results",
        description=INLINE_RULE + " A run that stopped beating is marked failed when read. "
        "You see your own runs; marketing managers and executives see every run.",
        responses={
            200: ImportRunSerializer,
            401: UNAUTHORIZED,
            403: FORBIDDEN,
            404: OpenApiResponse(ErrorSerializer, description="No such import run."),
        },
    )
    def get(self, request: Request, pk: int, *args: Any, **kwargs: Any) -> Response:
        if not request.user.has_perm("leads.view_leadimport"):
            raise PermissionDenied(_("Your role may not see imports."))
        record = lead_import_visible(user=request.user).filter(pk=pk).first()
        if record is None:
            raise NotFound(_("No such import run."))
        record = lead_import_check(record=record)
        paginator = self.paginator
        assert paginator is not None
        report = record.report or []
        page = paginator.paginate_queryset(report, request, view=self) or []
        return Response(
            {
                **import_run_data(record, request=request),
                "count": len(report),
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
                "results": page,
            }
        )


urlpatterns = [
    path("leads/", LeadListCreate.as_view(), name="api-leads"),
    path("leads/import/", LeadImportView.as_view(), name="api-lead-import"),
    path("leads/import/<int:pk>/", LeadImportRunView.as_view(), name="api-lead-import-run"),
    path("leads/<int:pk>/", LeadDetail.as_view(), name="api-lead"),
    path("leads/<int:pk>/merge/", LeadMergeView.as_view(), name="api-lead-merge"),
]
