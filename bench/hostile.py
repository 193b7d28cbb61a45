"""Run every hostile-input and bad-luck case (the tests marked ``hostile``) and print what held.

    python bench/hostile.py [PYTEST ARGS...]

Each case is a test that failed on the code before its fix (tests/test_hostile.py and the cases marked
elsewhere); the table lists each with "held" or "FAILED", then the totals. Exit status 1 if any failed.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "hostile.xml"
        command = [sys.executable, "-m", "pytest", "-m", "hostile", "-q", "-p", "no:cacheprovider"]
        subprocess.run([*command, f"--junitxml={report}", *sys.argv[1:]], cwd=ROOT, check=False)
        cases = ET.parse(report).getroot().iter("testcase")
        rows = []
        for case in cases:
            failed = case.find("failure") is not None or case.find("error") is not None
            skipped = case.find("skipped") is not None
            outcome = "FAILED" if failed else "skipped" if skipped else "held"
            rows.append((case.get("classname", "").rsplit(".", 1)[-1], case.get("name", ""), outcome))
    print("\n| file | case | outcome |\n|---|---|---|")
    for module, name, outcome in rows:
        print(f"| {module} | {name} | {outcome} |")
    held = sum(o == "held" for *_, o in rows)
    failed = sum(o == "FAILED" for *_, o in rows)
    print(f"\n{len(rows)} cases tried, {held} held, {failed} failed, {len(rows) - held - failed} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
