#!/usr/bin/env bash
# The stack as deployed, rehearsed without an AWS account (README.md: Deploy; what it proves
# and what only a real account shows: docs/DEPLOY.md, "Rehearsing the stack").
#
# infra/template.yaml is translated by the SAM translator and created as a CloudFormation stack
# on a local moto that enforces IAM, twice: with a new VPC, and in an existing one. The four
# functions' `sam build` artifacts (arm64, under qemu on other machines) run under a Lambda
# Runtime API with the environment the stack gave them and their own roles' credentials; the
# HTTP API's routes and JWT authorizer come from the translated template, with a real OpenID
# provider (oidc-provider); events go through the stack's EventBridge rules; the fake WeCom
# trusts only the NAT stand-in's address. Then the product's walk (tests/rehearsal/walk.py) and
# the console's sign-in in headless Chromium (tests/browser/signin.mjs).
#
#   tests/rehearsal.sh [--no-build] [--variant new-vpc|existing-vpc|all] [--keep]
#   tests/rehearsal.sh --breaks     # each deliberate break of the template must fail it
#
# --no-build uses the artifacts of the last `sam build` (tests/run.sh has just built them).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=tests/lib.sh
. "$root/tests/lib.sh"

build=1
breaks=0
pass=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --breaks) breaks=1 ;;
    --keep) pass+=(--keep) ;;
    --variant) pass+=(--variant "${2:?--variant needs a value}"); shift ;;
    *) echo "usage: tests/rehearsal.sh [--no-build] [--variant new-vpc|existing-vpc|all] [--keep] [--breaks]" >&2; exit 2 ;;
  esac
  shift
done

# --- what it needs ---------------------------------------------------------------------------
ensure_venv "$root"
ensure_arm64_runner
ensure_chromium
ensure_npm_folder "$root/tests/oidc" "oidc-provider"
ensure_npm_folder "$root/tests/browser" "playwright-core"
build_test_bins
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
fake="$target/debug/fake-wecom"
[ -x "$fake" ] || { echo "tests/rehearsal.sh: $fake is missing after cargo build" >&2; exit 1; }
if [ "$build" = 1 ]; then
  ensure_arm64_build
  step "sam build: the four functions for arm64, as sam deploy would upload them"
  sam build
fi
for fn in CallbackFunction ChannelConfigFunction TestSendFunction DispatchFunction; do
  [ -x "$root/.aws-sam/build/$fn/bootstrap" ] ||
    { echo "tests/rehearsal.sh: .aws-sam/build/$fn/bootstrap is missing: run without --no-build" >&2; exit 1; }
done

# The rehearsal starts its own moto (one that enforces IAM), never the test suite's.
unset AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1

if [ "$breaks" = 0 ]; then
  step "rehearsing infra/template.yaml as deployed (new VPC, then an existing one)"
  python -m tests.rehearsal.rehearse --fake-wecom "$fake" "${pass[@]}"
  exit
fi

# Each break must make the rehearsal fail; a break it survives is a hole in it.
survived=()
for b in iam-action env-var out-of-vpc index audience; do
  step "deliberate break: $b (the rehearsal must fail)"
  log="$(mktemp -t rehearsal-break.XXXXXX.log)"
  if python -m tests.rehearsal.rehearse --fake-wecom "$fake" --variant new-vpc --no-browser --break "$b" >"$log" 2>&1; then
    survived+=("$b")
    echo "  the rehearsal PASSED with this break (log: $log)"
  else
    grep -m1 -E '=== new-vpc: FAILED' "$log" | cut -c1-400
    rm -f "$log"
  fi
done
if [ "${#survived[@]}" -gt 0 ]; then
  echo "tests/rehearsal.sh: the rehearsal did not notice: ${survived[*]}" >&2
  exit 1
fi
step "every deliberate break failed the rehearsal"
