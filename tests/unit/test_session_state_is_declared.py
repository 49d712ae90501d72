"""The pools reset a released connection only when it said it holds session state
(`services/runtime/db.py`, `reset_on_release`): this test finds every statement in `services/` and
`singlepot/` that leaves state beyond its transaction (a session-level advisory lock, LISTEN, a
session SET, `set_config(..., false)`, a cursor WITH HOLD) and requires its module to declare it
with `holds_session_state`, or to be listed below with the reason it is safe without. Temporary
tables and named prepared statements outlive even the full reset, so they must not appear at all
(a temporary table may, with ON COMMIT DROP). A tripwire, not a proof: one declaration covers
its whole module."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("services", "singlepot")

SESSION_STATE = re.compile(
    r"pg_(try_)?advisory_lock(_shared)?\s*\("  # session-level (the _xact_ ones end with the commit)
    r"|add_listener\s*\("
    r"|(?-i:\bLISTEN\s+[A-Za-z_\"])"
    # A SET opening a statement: in a Python string, after ";", or after a query's name line.
    r"|(--[^\n]*\n|[;\"'(])\s*SET\s+(SESSION\s+)?(?!LOCAL\b|TRANSACTION\b|CONSTRAINTS\b)"
    r"(ROLE\b|TIME\s+ZONE\b|AUTHORIZATION\b|[a-z_.]+\s*(TO\b|=))"
    r"|set_config\s*\([^)]*,\s*false\s*\)"
    r"|\bCURSOR\s+WITH\s+HOLD\b",
    re.IGNORECASE,
)

# State no pool's reset clears (asyncpg's reset query has no DISCARD nor DEALLOCATE).
OUTLIVES_THE_RESET = re.compile(
    r"CREATE\s+(TEMP|TEMPORARY)\s+TABLE\b(?![^;]*ON\s+COMMIT\s+DROP)"
    r"|(?-i:\bPREPARE\s+[A-Za-z_]\w*\s*(\(|AS\b))",
    re.IGNORECASE,
)

# Modules that take session state but need not declare it, and why.
SAFE_WITHOUT_DECLARING = {
    # The relay's SQL: the relay declares before it runs it (runtime/outbox.py, take_over).
    "services/runtime/queries.sql": "the relay marks its leader connection (runtime/outbox.py)",
    # Connections of their own, opened and closed around one job, never a pooled one.
    "services/gateway/projections/rebuild.py": "its own connection, closed after use",
    "singlepot/demo.py": "its own connections, closed after use",
    "singlepot/users_cli.py": "its own connection, closed after use",
}
DECLARES = "holds_session_state("


def scanned_modules() -> list[Path]:
    """Every Python and SQL file of the services and the launcher, migrations aside (they run
    in their own transaction on a connection of their own)."""
    paths = []
    for top in SCANNED:
        paths += [*(ROOT / top).rglob("*.py"), *(ROOT / top).rglob("*.sql")]
    return sorted(path for path in paths if "/migrations/" not in path.as_posix())


def modules_matching(pattern: re.Pattern[str]) -> dict[str, str]:
    """Each scanned module (relative path) with a match of `pattern`, and the first match."""
    found = {}
    for path in scanned_modules():
        match = pattern.search(path.read_text(encoding="utf-8"))
        if match is not None:
            found[path.relative_to(ROOT).as_posix()] = match.group(0).strip()
    return found


def test_every_module_that_leaves_session_state_on_a_connection_declares_it() -> None:
    undeclared = {
        module: statement
        for module, statement in modules_matching(SESSION_STATE).items()
        if module not in SAFE_WITHOUT_DECLARING
        and DECLARES not in (ROOT / module).read_text(encoding="utf-8")
    }
    assert undeclared == {}, (
        "these leave session state on a connection; call services.runtime.db."
        f"holds_session_state(connection) before they take it: {undeclared}"
    )


def test_no_module_leaves_state_that_even_the_full_reset_keeps() -> None:
    assert modules_matching(OUTLIVES_THE_RESET) == {}, (
        "a temporary table (without ON COMMIT DROP) or a named prepared statement stays on a "
        "pooled connection for its next user whatever the pool does"
    )


def test_the_listed_exceptions_still_take_session_state() -> None:
    found = modules_matching(SESSION_STATE)
    assert sorted(set(SAFE_WITHOUT_DECLARING) - set(found)) == []  # stale entries go


def test_the_scan_finds_the_statements_it_is_meant_to_find() -> None:
    found = modules_matching(SESSION_STATE)
    assert "services/runtime/outbox.py" in found  # add_listener on the relay's leader connection
    assert "services/gateway/delivery/db.py" in found  # add_listener: the delivery wake-up
    assert "services/runtime/queries.sql" in found  # pg_try_advisory_lock
    for text in (
        "SELECT pg_advisory_lock(1)",
        "SELECT pg_try_advisory_lock_shared(1)",
        "await connection.execute('SET work_mem = 1')",
        "await connection.execute('SET work_mem=1')",
        "-- name: slow\nSET statement_timeout TO 5;",
        'execute(f"SET search_path TO {schema}")',
        "execute('SET ROLE reader')",
        "execute('SET TIME ZONE UTC')",
        "execute('SET SESSION AUTHORIZATION reader')",
        "SELECT set_config('work_mem', '1MB', false)",
        "LISTEN channel",
        "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
    ):
        assert SESSION_STATE.search(text), text
    for text in (
        "SELECT pg_advisory_xact_lock(1)",
        "SET LOCAL search_path TO x",
        "execute('SET TRANSACTION ISOLATION LEVEL SERIALIZABLE')",
        "UPDATE t SET status = 'x'",
        "UPDATE t\nSET status = 'x'",
        "ON CONFLICT (id) DO UPDATE\nSET status = EXCLUDED.status",
        "SELECT set_config('work_mem', $3, true)",
        "one connection of the pool listens for queued deliveries",
    ):
        assert not SESSION_STATE.search(text), text
    assert OUTLIVES_THE_RESET.search("CREATE TEMP TABLE staged (n int)")
    assert OUTLIVES_THE_RESET.search("PREPARE fetch_one AS SELECT 1")
    assert not OUTLIVES_THE_RESET.search("CREATE TEMP TABLE staged (n int) ON COMMIT DROP")
    assert not OUTLIVES_THE_RESET.search("the statements asyncpg prepares itself")
