"""Key patterns in the hub bucket (IAM wildcards), as ``fedcore/runtime/layout.py`` names the keys.

The runtime declares which of these each step touches (``fedcore/runtime/resource_access.py``);
``tests/cdk/test_role_permissions.py`` checks that the roles granted from these patterns match it.
"""

CONFIG = "models/*/config.json"
SCHEMA = "models/*/schema.json"
PLANS = "models/*/plans.json"
PREPROCESSOR = "models/*/preprocessor.json"
MODEL = "models/*/*.sealed"
UPDATES = "updates/*"
AGGREGATOR_STATE = "runs/*/aggregator/*.sealed"  # FedAdam-style server state between rounds
GENERATED = "generated/*.csv"  # /generate results above the inline limit, fetched by presigned link

TRAINER_READS = (CONFIG, SCHEMA, PLANS, PREPROCESSOR, MODEL)  # what a spoke's trainer reads of the hub's
TRAINER_CHECKS = (PLANS,)  # what it checks for before reading (ListBucket with s3:prefix = the key)


def own_update(spoke_id: str) -> str:
    """A spoke's update keys: exactly its id as the last segment (no trailing wildcard, see admit_spoke)."""
    return f"updates/*/*/{spoke_id}"
