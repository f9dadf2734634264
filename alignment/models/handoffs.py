"""The alerts of hand-offs between the teams: each reminder and escalation, sent once.

A hand-off itself (intelligence to acknowledge, a briefing to acknowledge, a dispute to
resolve, an MQL to accept, a planned follow-up) lives in its own record; what is kept
here is that its owner was reminded, or its owner's manager told, for one due time.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class HandoffKind(models.TextChoices):
    INTEL_ACK = "intel_ack", _("Intelligence to acknowledge")
    BRIEFING_ACK = "briefing_ack", _("Briefing to acknowledge")
    DISPUTE = "dispute", _("Dispute to resolve")
    MQL_ACCEPTANCE = "mql_acceptance", _("MQL to accept or reject")
    FOLLOW_UP = "follow_up", _("Planned follow-up")


class HandoffStep(models.TextChoices):
    REMINDER = "reminder", _("Reminder")
    ESCALATION = "escalation", _("Escalation")


class HandoffAlert(models.Model):
    kind = models.CharField(_("kind"), max_length=20, choices=HandoffKind.choices)
    # The hand-off's record: an id, or "briefing:user" for one rep's acknowledgment.
    subject = models.CharField(_("subject"), max_length=40)
    due_at = models.DateTimeField(_("due"))
    step = models.CharField(_("step"), max_length=12, choices=HandoffStep.choices)
    sent_at = models.DateTimeField(_("sent at"))
    recipients = models.PositiveIntegerField(_("people told"), default=0)

    class Meta:
        ordering = ["-sent_at"]
        verbose_name = _("hand-off alert")
        verbose_name_plural = _("hand-off alerts")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject", "due_at", "step"], name="handoff_alert_once"
            )
        ]
        indexes = [models.Index(fields=["kind", "subject"], name="handoff_alert_subject_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.subject} · {self.get_step_display()}"
