"""The spoke trainer (``python -I -m containers.trainer``) and its exit statuses, which the sandbox and
a reader of the Batch job see; the last line the trainer logs says why."""

EXIT_RELEASED = 0  # released now, or by an earlier attempt
EXIT_BAD_INPUT = 2  # bad data or settings
EXIT_LOCAL_CAP = 3  # the hospital's own epsilon cap refuses this release
EXIT_DP_REQUIRED = 4  # the run asks for no DP and the hospital has not opted out of DP
EXIT_NO_POLICY = 5  # the hospital's policy is missing or malformed
EXIT_FOREIGN_RELEASE = 6  # an object at this hospital's release key that its own ledger never charged
