#!/usr/bin/env bash
# Validates deploy/ without a container engine or a Kubernetes cluster:
# whatever the tools on this machine can check, each step printed as PASS,
# FAIL or SKIP (with why), then one summary line. Exits 1 if any step
# failed, 0 otherwise (skips included).
#
#   scripts/check-deploy.sh
#
#   step                          needs (installed if missing)
#   coordinator wrapper           sh; shellcheck if present
#   HAProxy configs               haproxy (Debian: apt-get install haproxy)
#   compose schema                check-jsonschema (pip, has the compose spec)
#   docker compose config         the docker compose plugin, if present
#   Prometheus config             promtool, if present
#   Kubernetes manifests          kubernetes-validate (pip, schemas offline);
#                                 kubectl kustomize, if kubectl is present
#   cross-checks                  PyYAML (pip): scripts/check-deploy.py, and
#                                 flags against `shoal --help` if a binary is
#                                 found ($SHOAL_BIN, target/debug/shoal or
#                                 target/release/shoal; this script builds none)
#
# Missing pip packages are installed with `python3 -m pip install`; with
# CI=true a failed install is a failure, elsewhere a skip. Nothing here
# builds or runs the image or the cluster.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1

passed=0
failed=0
skipped=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
skip() { echo "SKIP: $*"; skipped=$((skipped + 1)); }
# run WHAT COMMAND...: PASS or FAIL by its exit status, its output shown on failure.
run() {
    local what=$1 out
    shift
    if out=$("$@" 2>&1); then
        pass "$what"
    else
        fail "$what"
        printf '%s\n' "$out" | sed 's/^/    /'
    fi
}

# Python packages: module name, pip requirement.
pip_need() {
    local module=$1 req=$2
    python3 -c "import $module" 2>/dev/null && return 0
    echo "installing $req (pip)..."
    if python3 -m pip install --quiet --disable-pip-version-check "$req" >/dev/null 2>&1 &&
        python3 -c "import $module" 2>/dev/null; then
        return 0
    fi
    if [ "${CI:-}" = true ]; then
        fail "pip install $req"
    fi
    return 1
}

have_yaml=false
pip_need yaml 'PyYAML>=6' && have_yaml=true
have_kv=false
pip_need kubernetes_validate 'kubernetes-validate==1.37.0' && have_kv=true
have_cj=false
pip_need check_jsonschema 'check-jsonschema==0.39.0' && have_cj=true

# --- deploy/shoal-coordinator.sh ---------------------------------------------

wrapper=deploy/shoal-coordinator.sh
run "$wrapper: sh -n" sh -n "$wrapper"
if command -v shellcheck >/dev/null; then
    run "$wrapper: shellcheck" shellcheck "$wrapper"
else
    skip "$wrapper: shellcheck (not installed)"
fi

# Which role the wrapper picks, with stand-ins for shoal (prints what it
# was started with) and curl (the peer is active when PEER_ACTIVE=1).
stubs=$(mktemp -d)
trap 'rm -rf "$stubs"' EXIT
cat >"$stubs/shoal" <<'EOF'
#!/bin/sh
echo "$* | advertise=${SHOAL_COORDINATOR_ADVERTISE:-}"
EOF
cat >"$stubs/curl" <<'EOF'
#!/bin/sh
for last; do :; done
echo "$last" >>"$CURL_LOG"
[ "${PEER_ACTIVE:-0}" = 1 ] || exit 7
EOF
chmod +x "$stubs/shoal" "$stubs/curl"
wrapper_case() {
    local want=$1 got
    shift
    got=$(env -u SHOAL_COORDINATOR_ADVERTISE PATH="$stubs:$PATH" CURL_LOG="$stubs/curl.log" \
        "$@" sh "$wrapper" "${args[@]}" --store memory:// 2>/dev/null)
    if [ "$got" != "$want" ]; then
        echo "    ${args[*]} ($*): got '$got', want '$want'"
        return 1
    fi
}
wrapper_cases() {
    local ok=0
    args=(--peer b:5440 --first)
    wrapper_case "coordinator --store memory:// | advertise=" PEER_ACTIVE=0 || ok=1
    wrapper_case "coordinator --spare --watch b:5440 --store memory:// | advertise=" PEER_ACTIVE=1 || ok=1
    args=(--peer a:5440)
    wrapper_case "coordinator --spare --watch a:5440 --store memory:// | advertise=" PEER_ACTIVE=0 || ok=1
    wrapper_case "coordinator --spare --watch a:5440 --store memory:// | advertise=" PEER_ACTIVE=1 || ok=1
    args=(--statefulset svc)
    wrapper_case "coordinator --store memory:// | advertise=c-0.svc:5440" POD_NAME=c-0 PEER_ACTIVE=0 || ok=1
    wrapper_case "coordinator --spare --watch c-1.svc:5440 --store memory:// | advertise=c-0.svc:5440" \
        POD_NAME=c-0 PEER_ACTIVE=1 || ok=1
    wrapper_case "coordinator --spare --watch c-0.svc:6000 --store memory:// | advertise=c-1.svc:6000" \
        POD_NAME=c-1 SHOAL_COORDINATOR_LISTEN=0.0.0.0:6000 PEER_ACTIVE=0 || ok=1
    # Refused: a third pod, and --spare given by hand.
    wrapper_case "" POD_NAME=c-2 || ok=1
    args=(--peer b:5440 --spare)
    wrapper_case "" || ok=1
    # The peer's health is asked on its HTTP port.
    if ! grep -qx 'http://b:8440/health' "$stubs/curl.log" ||
        ! grep -qx 'http://c-1.svc:8440/health' "$stubs/curl.log"; then
        echo "    peer health URLs: $(sort -u "$stubs/curl.log" | tr '\n' ' ')"
        ok=1
    fi
    return $ok
}
run "$wrapper: active, spare or refused, by peer health and pod ordinal" wrapper_cases

# --- HAProxy -------------------------------------------------------------

for cfg in deploy/haproxy.cfg deploy/haproxy-compose.cfg; do
    if command -v haproxy >/dev/null; then
        # The compose file's servers are named by services that resolve
        # only inside compose's network: HAProxy warns and starts them
        # down (init-addr none), which is what it does there too.
        run "$cfg: haproxy -c ($(haproxy -v | head -1 | awk '{print $3}'))" haproxy -c -q -f "$cfg"
    else
        skip "$cfg: haproxy -c (haproxy not installed; Debian: apt-get install haproxy)"
    fi
done

# --- docker compose --------------------------------------------------------

compose=deploy/docker-compose.yml
if $have_cj; then
    run "$compose: compose-spec schema (check-jsonschema)" \
        check-jsonschema --builtin-schema vendor.compose-spec "$compose"
else
    skip "$compose: compose-spec schema (check-jsonschema not installed)"
fi
if docker compose version >/dev/null 2>&1; then
    run "$compose: docker compose config -q" docker compose -f "$compose" config -q
else
    skip "$compose: docker compose config -q (no docker compose plugin)"
fi
if command -v promtool >/dev/null; then
    run "deploy/prometheus.yml: promtool check config" promtool check config deploy/prometheus.yml
else
    skip "deploy/prometheus.yml: promtool check config (promtool not installed; cross-checked below)"
fi

# --- Kubernetes ---------------------------------------------------------

k8s_files() {
    python3 -c '
import sys, yaml
for r in yaml.safe_load(open("deploy/k8s/kustomization.yaml"))["resources"]:
    print("deploy/k8s/" + r)'
}
if command -v kubectl >/dev/null; then
    rendered=$stubs/k8s.yaml
    run "deploy/k8s: kubectl kustomize" bash -c "kubectl kustomize deploy/k8s >'$rendered'"
    k8s_inputs=("$rendered")
    what="kubectl kustomize output"
else
    skip "deploy/k8s: kubectl kustomize (kubectl not installed; each listed manifest validated instead)"
    if $have_yaml; then
        mapfile -t k8s_inputs < <(k8s_files)
    else
        k8s_inputs=(deploy/k8s/*.yaml)
    fi
    what="manifests"
fi
if $have_kv; then
    for version in 1.28 1.37; do
        run "deploy/k8s: $what against Kubernetes $version schemas (kubernetes-validate --strict)" \
            kubernetes-validate --strict --quiet -k "$version" "${k8s_inputs[@]}"
    done
else
    skip "deploy/k8s: kubernetes-validate (not installed)"
fi

# --- cross-checks ----------------------------------------------------------

shoal=${SHOAL_BIN:-}
for candidate in target/debug/shoal target/release/shoal; do
    [ -z "$shoal" ] && [ -x "$candidate" ] && shoal=$candidate
done
if $have_yaml; then
    if [ -n "$shoal" ]; then
        out=$(python3 scripts/check-deploy.py --shoal "$shoal" 2>&1)
    else
        out=$(python3 scripts/check-deploy.py 2>&1)
    fi
    status=$?
    printf '%s\n' "$out" | grep -v '^check-deploy.py: ' | sed 's/^/  /'
    if [ $status = 0 ]; then
        pass "cross-checks between deploy/ files and the binary (scripts/check-deploy.py)"
    else
        fail "cross-checks between deploy/ files and the binary (scripts/check-deploy.py)"
    fi
    [ -z "$shoal" ] && skip "flags against \`shoal --help\` (no binary: set SHOAL_BIN or build target/debug/shoal)"
else
    skip "cross-checks (PyYAML not installed)"
fi

skip "deploy/Dockerfile: no linter (hadolint is neither pip- nor apt-installable); checked by scripts/check-deploy.py only"
skip "building the image and running the compose file or the manifests (no container engine or cluster here)"

echo "check-deploy: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
