"""What the lead services raise besides Django's ValidationError and PermissionDenied."""

from __future__ import annotations

from config.errors import Conflict


class LeadConflict(Conflict):
    """Someone else won a race for the same lead (two claims, a duplicate email)."""
