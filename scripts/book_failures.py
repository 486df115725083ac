"""Fail `make book` when a chapter did not execute: its name and its first error line.

Jupyter Book 1 without -W logs a failed notebook as a warning, writes its traceback to
`<html>/reports/<chapter>.err.log`, and exits 0. This reads those reports after the build.

    python scripts/book_failures.py _build/html
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ERROR_LINE = re.compile(r"^\w*(Error|Exception|Interrupt)\b.*|^An error occurred.*")


def first_error(log: str) -> str:
    """The line that names the exception (the last such line: the cell's own error)."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", log)  # tracebacks keep their terminal colours
    hits = [line.strip() for line in plain.splitlines() if ERROR_LINE.match(line.strip())]
    return hits[-1] if hits else (plain.strip().splitlines() or ["(empty report)"])[-1]


def failures(html: Path) -> list[str]:
    """One line per chapter with an execution report: '<chapter>: <error line>'."""
    return [f"{log.name.removesuffix('.err.log')}: {first_error(log.read_text(errors='replace'))}"
            for log in sorted((html / "reports").glob("**/*.err.log"))]


def main(argv: list[str]) -> int:
    lines = failures(Path(argv[1] if len(argv) > 1 else "_build/html"))
    for line in lines:
        print(f"chapter failed: {line}", file=sys.stderr)
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
