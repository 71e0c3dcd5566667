"""What each hub function's role may do: the S3 keys, sealing kinds and table actions its step's code uses.

The same table as ``fedcore/runtime/resource_access.py`` (the runtime's declaration, which the handlers
enforce on themselves); ``tests/cdk/test_role_permissions.py`` checks every synthesized role against that
declaration both ways, so the two cannot drift apart. Key patterns: ``cdk.components.hub_keys``.
"""

from __future__ import annotations

from cdk.components.hub_functions import HubFunctions
from cdk.components.hub_keys import AGGREGATOR_STATE, CONFIG, GENERATED, MODEL, PLANS, PREPROCESSOR, SCHEMA, UPDATES
from cdk.components.hub_storage import HubStorage
from cdk.components.hub_tables import HubTables

GET, QUERY, PUT = "dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"
AUDIT_APPEND = (GET, QUERY, PUT)  # chain head, event lookup, create-only put: never update or delete


def grant_round_loop(storage: HubStorage, tables: HubTables, functions: HubFunctions) -> None:
    init_run = functions.init_run.role
    storage.grant_write(init_run, CONFIG, SCHEMA)  # published to the spokes, who may read models/ only
    tables.grant(init_run, "runs", (GET, PUT))
    tables.grant(init_run, "ledger", (GET, PUT))  # opens a ledger account for a spoke that has none
    tables.grant(init_run, "audit", AUDIT_APPEND)

    setup_merge = functions.setup_merge.role
    storage.grant_read(setup_merge, SCHEMA, PLANS, PREPROCESSOR, UPDATES)
    storage.grant_write(setup_merge, PREPROCESSOR, MODEL, PLANS)
    storage.grant_list(setup_merge, UPDATES)
    storage.grant_check(setup_merge, PREPROCESSOR)  # merged by an earlier attempt?
    storage.grant_open(setup_merge, ["update"])
    storage.grant_seal(setup_merge, ["model"])
    tables.grant(setup_merge, "runs", (GET, PUT))
    tables.grant(setup_merge, "ledger", (GET, PUT))  # charges the setup statistics it accepts
    tables.grant(setup_merge, "audit", AUDIT_APPEND)

    budget_gate = functions.budget_gate.role
    tables.grant(budget_gate, "runs", (GET, PUT))
    tables.grant(budget_gate, "ledger", (GET,))
    tables.grant(budget_gate, "audit", AUDIT_APPEND)

    aggregate = functions.aggregate.role
    storage.grant_read(aggregate, SCHEMA, PREPROCESSOR, MODEL, AGGREGATOR_STATE, UPDATES)
    storage.grant_write(aggregate, MODEL, AGGREGATOR_STATE)
    storage.grant_list(aggregate, UPDATES)
    storage.grant_check(aggregate, MODEL, AGGREGATOR_STATE)  # aggregated by an earlier attempt? a server state?
    storage.grant_open(aggregate, ["update", "model"])
    storage.grant_seal(aggregate, ["model"])
    tables.grant(aggregate, "runs", (GET, QUERY, PUT))
    tables.grant(aggregate, "ledger", (GET, PUT))  # charges the updates it accepts
    tables.grant(aggregate, "audit", AUDIT_APPEND)

    finalize = functions.finalize.role
    storage.grant_read(finalize, MODEL)  # hashes the published model; never opens it
    tables.grant(finalize, "runs", (GET, QUERY, PUT))
    tables.grant(finalize, "ledger", (GET,))
    tables.grant(finalize, "audit", AUDIT_APPEND)


def grant_api_data(storage: HubStorage, tables: HubTables, functions: HubFunctions) -> None:
    """The research API's data access (its Step Functions actions are granted where the state machine is)."""
    api = functions.api.role
    storage.grant_read(api, SCHEMA, PREPROCESSOR, MODEL, GENERATED)  # the presigned link is signed as this role
    storage.grant_write(api, GENERATED)
    storage.grant_open(api, ["model"])
    tables.grant(api, "runs", (GET, QUERY))
    tables.grant(api, "ledger", (GET, PUT))  # an admin budget reset opens a new period, never erases
    tables.grant(api, "audit", AUDIT_APPEND)
