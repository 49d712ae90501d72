"""Rewrite the permission tables in README.md from `services/gateway/identity/permissions.py`
(`python -m tools.readme_tables`); a unit test fails while README and the module disagree."""

from __future__ import annotations

import re
from pathlib import Path

from services.gateway.identity import permissions

README = Path(__file__).parent.parent / "README.md"
TABLES = {"role-table": permissions.role_table, "door-table": permissions.markdown_table}


def main() -> None:
    text = README.read_text(encoding="utf-8")
    for name, table in TABLES.items():
        pattern = re.compile(f"(<!-- {name}:start -->\n).*?(\n<!-- {name}:end -->)", re.S)
        rows = table()
        text = pattern.sub(lambda found, rows=rows: found.group(1) + rows + found.group(2), text)
    README.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
