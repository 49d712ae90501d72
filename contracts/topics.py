"""Kafka topic names: one constant per topic, and the key each one is partitioned by."""

# Requests and commands to the ledger. Key = place_id, so one place's money is processed in order.
LEDGER_REQUESTS = "ledger.requests.v1"
# The ledger's answers to those requests. Key = place_id.
LEDGER_RESULTS = "ledger.results.v1"
# Every posted transfer, hash-chained per place. Key = place_id.
LEDGER_TRANSFERS = "ledger.transfers.v1"
# Public spend events that departments subscribe to. Key = place_id.
LEDGER_SPEND = "ledger.spend.v1"
# Commands from the board and finance staff to the allocations service. Key = place_id.
ALLOCATIONS_COMMANDS = "allocations.commands.v1"
# What happened to allocations. Key = place_id.
ALLOCATIONS_LIFECYCLE = "allocations.lifecycle.v1"
# Commands to the outcomes service. Key = contract_id: evidence for one contract stays in order.
OUTCOMES_COMMANDS = "outcomes.commands.v1"
# What happened to outcomes contracts and their evidence. Key = contract_id.
OUTCOMES_LIFECYCLE = "outcomes.lifecycle.v1"
# What happened in the citizens' processes (panel, scrutiny triggers, audit committee, budget
# rounds): public facts only, never a resident's key. Key = place_id.
CITIZENS_LIFECYCLE = "citizens.lifecycle.v1"
# Messages that failed too often, with the error; never silently dropped.
DEAD_LETTER = "platform.deadletter.v1"

ALL_TOPICS: tuple[str, ...] = (
    LEDGER_REQUESTS,
    LEDGER_RESULTS,
    LEDGER_TRANSFERS,
    LEDGER_SPEND,
    ALLOCATIONS_COMMANDS,
    ALLOCATIONS_LIFECYCLE,
    OUTCOMES_COMMANDS,
    OUTCOMES_LIFECYCLE,
    CITIZENS_LIFECYCLE,
    DEAD_LETTER,
)


def prefixed(topic: str, prefix: str) -> str:
    """Return the topic name with a prefix, so each test can use topics of its own."""
    return f"{prefix}{topic}"
