"""Kubernetes JSON schemas for kubeconform, made from the OpenAPI document of the Kubernetes sources.

kubeconform downloads its schemas from a web server this project cannot count on; the same schemas are derived
here from ``api/openapi-spec/swagger.json`` of the ``k8s.io/kubernetes`` Go module (fetched by ``go mod download``
from the module proxy, see deploy/checks/checks.sh), the way openapi2jsonschema does: one standalone file per kind,
strict (unknown fields are errors), written as ``<dir>/v<version>-standalone-strict/<kind><suffix>.json``.

    python -m deploy.checks.kube_schemas <swagger.json> <out dir> <kubernetes version, e.g. 1.34.2>
    python -m deploy.checks.kube_schemas --crd <crd.yaml>... <out dir> <kubernetes version>

``--crd`` does the same for CustomResourceDefinitions (Strimzi's KafkaTopic and KafkaUser, made by Strimzi's own
crd-generator from its Maven Central jars, see deploy/checks/checks.sh): one strict schema per served version, named the
way kubeconform looks them up (``kafkatopic-kafka-v1.json``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# Fields whose value may be a number or a string ("80" / 80, "500m" / 1): the swagger document says "string".
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[1]} if isinstance(node.get("$ref"), str) else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node)) if node else set()
    return set()


def _strict(node: Any) -> Any:
    """Copy of ``node`` where every object schema with properties rejects unknown fields."""
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


def _closure(definitions: dict[str, Any], name: str) -> dict[str, Any]:
    todo, seen = [name], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo += sorted(_refs(definitions[current]) - seen)
    return {n: definitions[n] for n in sorted(seen)}


def _suffix(group: str, version: str) -> str:
    # kubeconform's KindSuffix: "-v1" for the core group, "-apps-v1", "-networking-v1" (first label) otherwise.
    return f"-{version}" if not group else f"-{group.split('.')[0].lower()}-{version}"


def generate(swagger: Path, out_dir: Path, k8s_version: str) -> int:
    doc = json.loads(swagger.read_text())
    definitions = doc["definitions"]
    definitions[_INT_OR_STRING] = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    definitions[_QUANTITY] = {"oneOf": [{"type": "string"}, {"type": "number"}]}
    target = out_dir / f"v{k8s_version}-standalone-strict"
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    for name, schema in definitions.items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            closure = _closure(definitions, name)
            standalone = {**_strict(schema), "definitions": _strict(closure)}
            standalone["$schema"] = "http://json-schema.org/draft-07/schema#"
            path = target / f"{gvk['kind'].lower()}{_suffix(gvk['group'], gvk['version'])}.json"
            path.write_text(json.dumps(standalone))
            count += 1
    return count


def _strict_crd(node: Any) -> Any:
    """Like ``_strict`` but leaves alone what the CRD declares open (x-kubernetes-preserve-unknown-fields)."""
    if isinstance(node, dict):
        out = {k: _strict_crd(v) for k, v in node.items()}
        if "properties" in out and "additionalProperties" not in out and not out.get(_PRESERVE):
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict_crd(v) for v in node]
    return node


_PRESERVE = "x-kubernetes-preserve-unknown-fields"


def generate_crds(crds: list[Path], out_dir: Path, k8s_version: str) -> int:
    import yaml  # the project's dependency (PyYAML comes with the dev tools); only this function needs it

    target = out_dir / f"v{k8s_version}-standalone-strict"
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in crds:
        for crd in (d for d in yaml.safe_load_all(path.read_text()) if d):
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if not version.get("served"):
                    continue
                schema = _strict_crd(version["schema"]["openAPIV3Schema"])
                schema["$schema"] = "http://json-schema.org/draft-07/schema#"
                name = f"{kind.lower()}{_suffix(group, version['name'])}.json"
                (target / name).write_text(json.dumps(schema))
                count += 1
    return count


def main() -> None:
    if sys.argv[1] == "--crd":
        *crds, crd_dir, crd_version = sys.argv[2:]
        print(f"{generate_crds([Path(c) for c in crds], Path(crd_dir), crd_version)} CRD schemas written to {crd_dir}")
        return
    swagger, out_dir, version = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    print(f"{generate(swagger, out_dir, version)} kubernetes schemas written to {out_dir}")


if __name__ == "__main__":
    main()
