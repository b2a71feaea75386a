#!/usr/bin/env bash
# Installs (or upgrades) Payung on a Kubernetes cluster with one command, from an empty namespace:
#   deploy/k8s/install.sh dev|production|production-strimzi [--dry-run]
# 1. everything the migration and topic Jobs need, and the Jobs (label payung.io/install-step=first: the ConfigMap,
#    the generated Secrets of the dev overlay, the ServiceAccounts, the network policies);
# 2. waits until every Job has completed (topics created, schemas migrated);
# 3. applies the rest (Deployments, Services, HPAs, PDBs, the Ingress) and waits for the rollouts.
# The production overlays expect Secrets payung-<service>, payung-topics and kafka-cluster-ca and ConfigMap
# payung-event-keys in the namespace (docs/DEPLOYMENT.md, "Secrets"); the script checks for them first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
overlay="${1:?usage: deploy/k8s/install.sh dev|production|production-strimzi [--dry-run]}"
dir="$ROOT/deploy/k8s/overlays/$overlay"
[[ -d "$dir" ]] || { echo "install: no overlay $overlay" >&2; exit 1; }
dry=()
[[ "${2:-}" == --dry-run ]] && dry=(--dry-run=client)
rendered="$(mktemp --suffix=.yaml)"
trap 'rm -f "$rendered"' EXIT
kubectl kustomize "$dir" > "$rendered"
ns="$(awk '/^  namespace: / {print $2; exit}' "$rendered")"
if [[ "$overlay" == dev ]]; then
  [[ -f "$dir/secrets/nomination.env" ]] || bash "$ROOT/deploy/checks.sh" dev-secrets
  kubectl kustomize "$dir" > "$rendered"
else
  for secret in payung-nomination payung-verification payung-enrolment payung-notification payung-reporting \
    payung-topics kafka-cluster-ca; do
    kubectl -n "$ns" get secret "$secret" >/dev/null 2>&1 || [[ ${#dry[@]} -gt 0 ]] \
      || { echo "install: Secret $secret missing in namespace $ns (docs/DEPLOYMENT.md, \"Secrets\")" >&2; exit 1; }
  done
  kubectl -n "$ns" get configmap payung-event-keys >/dev/null 2>&1 || [[ ${#dry[@]} -gt 0 ]] \
    || { echo "install: ConfigMap payung-event-keys missing in namespace $ns (docs/DEPLOYMENT.md, \"Secrets\")" >&2; exit 1; }
fi
kubectl get namespace "$ns" >/dev/null 2>&1 || kubectl create namespace "$ns" "${dry[@]}"
echo "==> first step: configuration, identities, network policies and the Jobs (namespace $ns)"
kubectl apply "${dry[@]}" -f "$rendered" -l payung.io/install-step=first
if [[ ${#dry[@]} -eq 0 ]]; then
  kubectl -n "$ns" wait --for=condition=complete job -l app.kubernetes.io/component=migration --timeout=10m
fi
echo "==> the services"
kubectl apply "${dry[@]}" -f "$rendered"
if [[ ${#dry[@]} -eq 0 ]]; then
  kubectl -n "$ns" rollout status deployment -l app.kubernetes.io/part-of=payung --timeout=10m
fi
