#!/bin/bash
# Health check of the aggregator's image: exit 0 when GET /metrics on HOST:PORT answers 200 with
# subcap's metrics. Plain bash (/dev/tcp): the image has no curl.
# Usage: healthcheck.sh HOST PORT
set -eu
host=${1:-127.0.0.1}
port=${2:-9464}
exec 3<>"/dev/tcp/$host/$port"
printf 'GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n' "$host" >&3
reply=$(timeout 5 cat <&3 || true)
exec 3<&-
case $reply in
"HTTP/1."[01]" 200"*subcap_hosts_known*) exit 0 ;;
*) echo "unhealthy: ${reply%%$'\r'*}" >&2; exit 1 ;;
esac
