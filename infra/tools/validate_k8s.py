"""Validate `kubectl kustomize` output: built-in kinds with kubernetes-validate, CRDs with our own schemas.

kubernetes-validate ships schemas for built-in Kubernetes kinds only; for a CRD such as the Secrets Store
CSI driver's SecretProviderClass it merely warns "Couldn't find schema" and passes. So this script splits
the rendered documents: built-in kinds are written to OUT for `kubernetes-validate --strict` (run by
scripts/check-infra.sh, as the tool's own CLI), and each CRD kind is checked against the JSON schema in
infra/k8s/schemas/ named after it. A CRD kind with no schema there fails: nothing passes unvalidated.

Run inside the kubernetes-validate tool environment (it brings PyYAML and jsonschema):
    uvx --from kubernetes-validate==X python infra/tools/validate_k8s.py RENDERED.yaml OUT.yaml K8S_VERSION
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "k8s" / "schemas"

# (apiVersion, kind) of the CRDs we use -> schema file in SCHEMA_DIR.
CRD_SCHEMAS = {
    ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass"): "secretproviderclass-v1.json",
    ("kubernetes.dask.org/v1", "DaskCluster"): "daskcluster-v1.json",
}

# Built-in specs embedded in a CRD, validated strictly as the built-in kind that holds them.
EMBEDDED = {
    ("kubernetes.dask.org/v1", "DaskCluster"): [
        (("spec", "scheduler", "spec"), "Pod"),
        (("spec", "scheduler", "service"), "Service"),
        (("spec", "worker", "spec"), "Pod"),
    ],
}


_EMBEDDING = {CRD_SCHEMAS[key] for key in EMBEDDED}


def embedded_errors(doc: dict, version: str) -> list[str]:
    """Strict kubernetes-validate errors of the built-in specs inside a CRD document."""
    errors = []
    for path, kind in EMBEDDED.get((doc.get("apiVersion"), doc.get("kind")), []):
        spec = doc
        for key in path:
            spec = spec.get(key, {}) if isinstance(spec, dict) else {}
        wrapped = {"apiVersion": "v1", "kind": kind, "metadata": {"name": "embedded"}, "spec": spec}
        try:
            kubernetes_validate.validate(wrapped, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{'.'.join(path)} (as a {kind}): {str(exc).splitlines()[0]}")
    return errors


def main(rendered: str, out: str, version: str) -> int:
    documents = [doc for doc in yaml.safe_load_all(Path(rendered).read_text()) if doc]
    builtin: list[dict] = []
    crds_checked: dict[str, int] = {}
    failures = 0
    for doc in documents:
        ident = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            schema_file = CRD_SCHEMAS.get((doc.get("apiVersion"), doc.get("kind")))
            if schema_file is None:
                print(f"FAIL {ident}: no schema in kubernetes-validate nor in {SCHEMA_DIR}")
                failures += 1
                continue
            schema = json.loads((SCHEMA_DIR / schema_file).read_text())
            errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=str)
            for error in errors:
                print(f"FAIL {ident}: {'/'.join(map(str, error.absolute_path))}: {error.message}")
            inner = embedded_errors(doc, version)
            for message in inner:
                print(f"FAIL {ident}: {message}")
            failures += bool(errors) or bool(inner)
            crds_checked[schema_file] = crds_checked.get(schema_file, 0) + 1
            continue
        except kubernetes_validate.ValidationError:
            pass  # reported by the kubernetes-validate CLI run on OUT, with its own message
        builtin.append(doc)
    for schema_file, count in crds_checked.items():
        print(
            f"note {count} x {schema_file.removesuffix('.json')} (CRD): kubernetes-validate has no schema for it, "
            f"checked against infra/k8s/schemas/{schema_file} instead"
            + (" (its pod and service specs strictly, as built-in kinds)" if schema_file in _EMBEDDING else "")
        )
    Path(out).write_text(yaml.safe_dump_all(builtin, sort_keys=False))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
