#!/usr/bin/env bash
# Installs (or upgrades) Payung on a Kubernetes cluster with one command, from an empty namespace:
#   deploy/k8s/install.sh dev|production|production-strimzi [--dry-run]
# 1. everything the migration and topic Jobs need, and the Jobs (label payung.io/install-step=first: the ConfigMap,
#    the generated Secrets of the dev overlay, the ServiceAccounts, the network policies);
# 2. waits until every Job has completed (topics created, schemas migrated);
# 3. applies the rest (Deployments, Services, HPAs, PDBs, the Ingress) and waits for the rollouts.
# The production overlays expect Secrets payung-<service>, payung-topics and kafka-cluster-ca and ConfigMap
# payung-event-keys in the namespace (docs/DEPLOYMENT.md, "Secrets"); the script checks for them first.
# With sign-in (components/keycloak, in every overlay): Secret payung-keycloak (Keycloak's database) is the
# operator's too; payung-keycloak-admin, payung-oidc and payung-keycloak-realm are made here when none exists (random
# values, the realm for the overlay's public URLs without demo users; python -m deploy.kube.keycloak), never in git.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
overlay="${1:?usage: deploy/k8s/install.sh dev|production|production-strimzi [--dry-run]}"
dir="$ROOT/deploy/k8s/overlays/$overlay"
[[ -d "$dir" ]] || { echo "install: no overlay $overlay" >&2; exit 1; }
dry=()
[[ "${2:-}" == --dry-run ]] && dry=(--dry-run=client)
rendered="$(mktemp --suffix=.yaml)"
trap 'rm -f "$rendered"' EXIT
# dev: its secretGenerator's files first (only what is missing in overlays/dev/secrets), else it cannot render
[[ "$overlay" == dev ]] && bash "$ROOT/deploy/checks/checks.sh" dev-secrets
kubectl kustomize "$dir" > "$rendered"
ns="$(awk '/^  namespace: / {print $2; exit}' "$rendered")"
keycloak=false  # the overlay has components/keycloak
grep -q 'secretName: payung-keycloak-realm' "$rendered" && keycloak=true
if [[ "$overlay" != dev ]]; then
  required=(payung-nomination payung-verification payung-enrolment payung-notification payung-reporting payung-topics
    kafka-cluster-ca)
  [[ "$keycloak" == true ]] && required+=(payung-keycloak)
  for secret in "${required[@]}"; do
    kubectl -n "$ns" get secret "$secret" >/dev/null 2>&1 || [[ ${#dry[@]} -gt 0 ]] \
      || { echo "install: Secret $secret missing in namespace $ns (docs/DEPLOYMENT.md, \"Secrets\")" >&2; exit 1; }
  done
  kubectl -n "$ns" get configmap payung-event-keys >/dev/null 2>&1 || [[ ${#dry[@]} -gt 0 ]] \
    || { echo "install: ConfigMap payung-event-keys missing in namespace $ns (docs/DEPLOYMENT.md, \"Secrets\")" >&2; exit 1; }
fi
kubectl get namespace "$ns" >/dev/null 2>&1 || kubectl create namespace "$ns" "${dry[@]}"
if [[ "$overlay" != dev && "$keycloak" == true ]]; then
  made=()
  for secret in payung-keycloak-admin payung-oidc payung-keycloak-realm; do
    kubectl -n "$ns" get secret "$secret" >/dev/null 2>&1 || made+=("$secret")
  done
  if [[ ${#made[@]} -eq 3 ]]; then
    echo "==> sign-in: generating Secrets payung-keycloak-admin, payung-oidc, payung-keycloak-realm (namespace $ns)"
    [[ -x "$ROOT/.venv/bin/python" ]] || "$ROOT/payung" --help >/dev/null
    work="$(mktemp -d)"
    trap 'rm -f "$rendered"; rm -rf "$work"' EXIT
    (cd "$ROOT" && .venv/bin/python -m deploy.kube.keycloak secrets "$work/s" --urls "$rendered" >/dev/null)
    kubectl -n "$ns" create secret generic payung-keycloak-admin --from-env-file="$work/s/keycloak-admin.env" "${dry[@]}"
    kubectl -n "$ns" create secret generic payung-oidc --from-env-file="$work/s/oidc.env" "${dry[@]}"
    kubectl -n "$ns" create secret generic payung-keycloak-realm --from-file=payung-realm.json="$work/s/payung-realm.json" \
      "${dry[@]}"
    rm -rf "$work"
  elif [[ ${#made[@]} -gt 0 ]]; then
    # the realm's client secret must be payung-oidc's: never make one without the other
    echo "install: Secret(s) ${made[*]} missing while the others exist; delete all three or restore them" \
      "(docs/DEPLOYMENT.md, \"Sign-in\")" >&2
    exit 1
  fi
fi
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
