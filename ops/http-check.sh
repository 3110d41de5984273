#!/usr/bin/env bash
# Container health check without curl or wget (the aspnet images ship neither): one HTTP/1.1 GET
# over bash's /dev/tcp to the service's own port, healthy when the status is 200.
#   http-check PATH DEFAULT_PORT
# The port is STREAMREC_HttpPort when set (the setting both services read), else DEFAULT_PORT.
set -euo pipefail
path="${1:?usage: http-check PATH DEFAULT_PORT}"
port="${STREAMREC_HttpPort:-${2:?usage: http-check PATH DEFAULT_PORT}}"
exec 3<>"/dev/tcp/127.0.0.1/${port}"
printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path" >&3
IFS=' ' read -r -t 5 _ status _ <&3
[ "$status" = "200" ]
