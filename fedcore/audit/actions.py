"""Every action the platform writes to the audit chain (the API filters by these)."""

AUDIT_ACTIONS = (
    "run.started",  # InitRun recorded a run
    "setup.merged",  # the setup round's statistics became the global preprocessor
    "budget.gate",  # a budget gate decided which spokes may run a round
    "spoke.failed",  # a spoke's job failed (the state machine's Catch)
    "update.rejected",  # an update failed to open or validate
    "round.aggregated",  # a round's global model was written
    "round.quorum_not_met",  # too few valid updates: the round did not complete
    "run.finished",  # Finalize recorded the run's end and published its model
    "run.start_requested",  # admin, via the API
    "run.stop_requested",  # admin, via the API
    "budget.limit_set",  # admin, via the API
    "budget.reset",  # admin, via the API: a new budget period, history kept
)
