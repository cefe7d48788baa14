"""`python -m tests.reliability.sweep ISO_TIME`: one worker sweep (tasks.run_once) at
a given supervision time, in a process of its own with the harness's environment.
Prints the report as JSON. `flask worker --once` does the same at the real time."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import datetime


def main() -> None:
    from server.app import create_app
    from server.supervision import tasks

    app = create_app()
    with app.app_context():
        report = tasks.run_once(datetime.fromisoformat(sys.argv[1]))
    print(json.dumps(asdict(report)))


if __name__ == "__main__":
    main()
