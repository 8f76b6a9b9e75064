#!/usr/bin/env bash
# A throwaway S3 server (moto) for tests, with a bucket `shoal-test`.
#
#   scripts/moto.sh CMD ARGS...   run CMD with the server up and the AWS_* and
#                                 SHOAL_TEST_S3 variables set; exit with CMD's status
#   scripts/moto.sh               start it, print the variables, serve until ^C
#   source scripts/moto.sh; moto_start
#                                 the same from another script (scripts/test.sh)
#
# The server listens on a free port of 127.0.0.1 and is killed when the
# calling shell exits.

moto_start() {
    local port log pid
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    log=$(mktemp -t shoal-moto.XXXXXX.log)
    python3 -m moto.server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    pid=$!
    MOTO_PID=$pid
    # Kill the server however the caller ends; `wait` keeps its death quiet.
    trap 'kill "$MOTO_PID" 2>/dev/null; wait "$MOTO_PID" 2>/dev/null || true' EXIT

    export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
    export AWS_ACCESS_KEY_ID=test
    export AWS_SECRET_ACCESS_KEY=test
    export AWS_REGION=us-east-1
    export AWS_ALLOW_HTTP=true
    export SHOAL_TEST_S3=s3://shoal-test

    # Wait (up to 30 s) until it answers, then create the bucket.
    if ! python3 - <<'PY'
import os, sys, time, urllib.request
import boto3
endpoint = os.environ["AWS_ENDPOINT_URL"]
for _ in range(300):
    try:
        urllib.request.urlopen(endpoint, timeout=1)
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("moto did not answer on " + endpoint)
boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="shoal-test")
PY
    then
        echo "moto failed to start; its log ($log):" >&2
        tail -n 20 "$log" >&2
        return 1
    fi
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    moto_start
    if [[ $# -gt 0 ]]; then
        "$@"
    else
        for var in AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_ALLOW_HTTP SHOAL_TEST_S3; do
            echo "export $var=${!var}"
        done
        echo "# moto is serving; ^C to stop" >&2
        wait "$MOTO_PID"
    fi
fi
