"""Check the Helm values for Prefect's charts: YAML parses, the worker's base job template is valid JSON,
every {{ placeholder }} in its job_configuration is a declared variable, and the work pool is cutover-k8s.

Prefect itself validates the template only when the worker first creates the pool, in the cluster; this
catches the same mistakes offline. Run with any Python that has PyYAML.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

PREFECT_DIR = Path(__file__).resolve().parent.parent / "k8s" / "prefect"
WORK_POOL = "cutover-k8s"


def main() -> int:
    problems: list[str] = []
    server = yaml.safe_load((PREFECT_DIR / "server-values.yaml").read_text())
    worker = yaml.safe_load((PREFECT_DIR / "worker-values.yaml").read_text())
    if server.get("postgresql", {}).get("enabled") is not False:
        problems.append("server-values: the bundled postgresql subchart must stay disabled")
    config = worker["worker"]["config"]
    if config.get("workPool") != WORK_POOL or config.get("type") != "kubernetes":
        problems.append(f"worker-values: work pool must be {WORK_POOL!r} of type kubernetes")
    template = json.loads(config["baseJobTemplate"]["configuration"])
    declared = set(template["variables"]["properties"])
    used = set(re.findall(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", json.dumps(template["job_configuration"])))
    for name in sorted(used - declared):
        problems.append(f"worker-values: placeholder {{{{ {name} }}}} has no variable")
    for problem in problems:
        print(f"FAIL {problem}")
    print(f"base job template: {len(used)} placeholders, {len(declared)} variables")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
