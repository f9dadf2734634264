"""Writes of the alignment app, one module per topic; import from here."""

from alignment.services.agreement import (
    SignResult,
    agreement_can_edit_criteria,
    agreement_can_edit_funnel,
    agreement_create_default,
    agreement_diff,
    agreement_draft_create,
    agreement_propose,
    agreement_reason_code_add,
    agreement_reason_code_delete,
    agreement_rule_add,
    agreement_rule_delete,
    agreement_sign,
    agreement_sign_team,
    agreement_stage_update,
    agreement_threshold_set,
    agreement_weights_set,
    idempotency_keys_purge,
)
from alignment.services.backtest import BacktestResult, agreement_backtest
from alignment.services.rescoring import (
    RescoreResult,
    agreement_rescore_all,
    leads_rescore_sql,
    scores_decay_apply,
)

__all__ = [
    "BacktestResult",
    "RescoreResult",
    "SignResult",
    "agreement_backtest",
    "agreement_can_edit_criteria",
    "agreement_can_edit_funnel",
    "agreement_create_default",
    "agreement_diff",
    "agreement_draft_create",
    "agreement_propose",
    "agreement_reason_code_add",
    "agreement_reason_code_delete",
    "agreement_rescore_all",
    "agreement_rule_add",
    "agreement_rule_delete",
    "agreement_sign",
    "agreement_sign_team",
    "agreement_stage_update",
    "agreement_threshold_set",
    "agreement_weights_set",
    "idempotency_keys_purge",
    "leads_rescore_sql",
    "scores_decay_apply",
]
