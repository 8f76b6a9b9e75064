#!/bin/sh
# Starts `shoal coordinator` as one of a pair of coordinators, as the active
# one or as the hot spare of the other, and never as a second active one
# while the other leads. In the image as /usr/local/bin/shoal-coordinator.
#
#   shoal-coordinator --peer HOST:PORT [--first] [FLAGS...]
#       the other coordinator is at HOST:PORT (gRPC). --first: this one
#       leads when neither does (the one to start first; give it to one of
#       the two only).
#   shoal-coordinator --statefulset SERVICE [FLAGS...]
#       this is pod NAME-N ($POD_NAME; N = 0 or 1) of a StatefulSet of
#       two behind the headless Service SERVICE: the peer is
#       NAME-(1-N).SERVICE, pod 0 is --first, and the address advertised
#       to frontends defaults to NAME-N.SERVICE:PORT.
#
# FLAGS go to `shoal coordinator` (the store and so on, or SHOAL_*
# variables); not --spare or --watch, which this script chooses:
#
#   * the peer's HTTP /health answers 200 (it is the active coordinator):
#     run as its spare, `--spare --watch PEER`. So a coordinator that comes
#     back after the other took over does not fence the working leader;
#   * otherwise, with --first: run as the active coordinator;
#   * otherwise: run as the spare of the peer, which takes over if the peer
#     does not answer within half a lease.
#
# The peer's HTTP port is $SHOAL_PEER_HTTP_PORT (default 8440, the image's
# HTTP port for coordinators); PORT is that of $SHOAL_COORDINATOR_LISTEN
# (default 5440). The script ends with `exec`, so shoal gets SIGTERM itself.
set -eu

usage() {
    echo "usage: shoal-coordinator --peer HOST:PORT [--first] [FLAGS...]" >&2
    echo "       shoal-coordinator --statefulset SERVICE [FLAGS...]" >&2
    exit 2
}

listen=${SHOAL_COORDINATOR_LISTEN:-0.0.0.0:5440}
port=${listen##*:}
peer=
first=false
while [ $# -gt 0 ]; do
    case "$1" in
        --peer) [ $# -ge 2 ] || usage; peer=$2; shift 2 ;;
        --first) first=true; shift ;;
        --statefulset)
            [ $# -ge 2 ] || usage
            service=$2
            shift 2
            # The pod's name: $POD_NAME (the downward API), else the
            # host name, which Kubernetes sets to it.
            me=${POD_NAME:-$(cat /proc/sys/kernel/hostname)}
            name=${me%-*}
            ordinal=${me##*-}
            case "$ordinal" in
                0) peer="$name-1.$service:$port"; first=true ;;
                1) peer="$name-0.$service:$port" ;;
                *) echo "shoal-coordinator: pod $me is not NAME-0 or NAME-1 of a StatefulSet of two" >&2; exit 2 ;;
            esac
            : "${SHOAL_COORDINATOR_ADVERTISE:=$me.$service:$port}"
            export SHOAL_COORDINATOR_ADVERTISE
            ;;
        --spare | --watch | --spare=* | --watch=*)
            echo "shoal-coordinator: $1 is chosen by this script; leave it out" >&2
            exit 2
            ;;
        *) break ;;
    esac
done
[ -n "$peer" ] || usage

peer_health="http://${peer%:*}:${SHOAL_PEER_HTTP_PORT:-8440}/health"
if curl -fsS -m 2 -o /dev/null "$peer_health" 2>/dev/null; then
    echo "shoal-coordinator: $peer is active: starting as its spare" >&2
    exec shoal coordinator --spare --watch "$peer" "$@"
elif [ "$first" = true ]; then
    echo "shoal-coordinator: $peer is not active: starting as the active coordinator" >&2
    exec shoal coordinator "$@"
else
    echo "shoal-coordinator: starting as the spare of $peer" >&2
    exec shoal coordinator --spare --watch "$peer" "$@"
fi
