#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# A fake Kubernetes API server for one connection, run by ncat (plain HTTP):
#   ncat -k -l 127.0.0.1 PORT --sh-exec "bash fake_nodes_api.sh NODES.json"
# Every GET of the node list is answered with NODES.json (a NodeList, one
# page); a watch (?watch=...) ends at once with no event (the agent backs off
# and watches again). Each request line is appended to NODES.json.requests.
nodes=$1

read -r method path _
while read -r line; do
	[ -z "${line%$'\r'}" ] && break
done
echo "$method $path" >>"$nodes.requests"
if [[ "$path" == *watch=* ]]; then
	printf 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
	exit 0
fi
body=$(cat "$nodes")
printf 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
	"${#body}" "$body"
