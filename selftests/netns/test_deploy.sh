#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# deploy/ checked without a cluster (no namespace, no traffic):
#  - every YAML file parses (PyYAML, a real parser) and every object has
#    apiVersion and kind; kustomizations name files that exist
#  - the DaemonSet: least privilege as documented, probes and mounts, and every
#    --flag it passes is one `warmpath run --help` lists
#  - RBAC: read-only, the bindings name the DaemonSet's service account
#  - `promtool check rules` accepts the PrometheusRule's groups, and
#    `promtool test rules` shows the alerts fire on made-up series
#  - the Grafana dashboard is JSON whose queries (and the alerts') use only
#    metric names the agent's sources export
#  - the Dockerfile's runtime stage installs the package of every shared library
#    `ldd ./warmpath` lists; its build stage the -dev package of every pkg-config
#    module the Makefile links
#  - the systemd unit passes `systemd-analyze verify` and is hardened
#  - every file carries an SPDX line where its format allows a comment

# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/../lib.sh"

DEPLOY=$WP_ROOT/deploy
K8S=$DEPLOY/kubernetes
PY=/usr/bin/python3
PROMTOOL=${PROMTOOL:-promtool}

if [ ! -x "$WARMPATH" ]; then
	echo "$(basename "$0"): $WARMPATH not built; run 'make' first" >&2
	exit 2
fi
for c in "$PY" jq "$PROMTOOL" dpkg dpkg-query ldd readelf; do
	if ! command -v "$c" >/dev/null; then
		echo "$(basename "$0"): '$c' missing; run scripts/install-deps.sh" >&2
		exit 2
	fi
done
if ! "$PY" -c 'import yaml' 2>/dev/null; then
	echo "$(basename "$0"): PyYAML missing (Debian: python3-yaml); run scripts/install-deps.sh" >&2
	exit 2
fi
WP_TMP=$(mktemp -d "/tmp/$WP_TAG.XXXXXX")
trap 'case "$WP_TMP" in /tmp/"$WP_TAG".*) rm -rf -- "$WP_TMP" ;; esac' EXIT

# py_checks: a Python check prints "OK<TAB>name" or "FAIL<TAB>name<TAB>why" lines.
py_checks()
{
	local status name why

	while IFS=$'\t' read -r status name why; do
		case "$status" in
		OK) ok "$name" ;;
		FAIL) fail "$name" "$why" ;;
		*) info "$status $name $why" ;;
		esac
	done
}

# --- YAML: every file parses, every object is typed --------------------------
mapfile -t YAMLS < <(find "$DEPLOY" -name '*.yaml' -o -name '*.yml' | sort)
check_true "deploy/ has YAML files" test "${#YAMLS[@]}" -gt 0
"$PY" - "$DEPLOY" "${YAMLS[@]}" >"$WP_TMP/checks1.out" <<'EOF'
import os, sys, yaml
root = sys.argv[1]
for path in sys.argv[2:]:
    rel = os.path.relpath(path, os.path.dirname(root))
    try:
        docs = [d for d in yaml.safe_load_all(open(path)) if d is not None]
    except yaml.YAMLError as e:
        print(f"FAIL\tyaml parses: {rel}\t{str(e).splitlines()[0]}")
        continue
    print(f"OK\tyaml parses: {rel}")
    bad = []
    for d in docs:
        if isinstance(d, list):  # an RFC 6902 patch
            bad += [f"patch op {o!r}" for o in d if not {"op", "path"} <= set(o)]
        elif not (isinstance(d, dict) and d.get("apiVersion") and d.get("kind")):
            bad.append("a document without apiVersion/kind")
    if bad:
        print(f"FAIL\tobjects typed: {rel}\t{'; '.join(bad)}")
    else:
        print(f"OK\tobjects typed: {rel} ({len(docs)} document(s))")
EOF
py_checks <"$WP_TMP/checks1.out"

# --- kustomize: the files it names exist, the component patches apply ----------
"$PY" - "$K8S" >"$WP_TMP/checks2.out" <<'EOF'
import os, re, sys, yaml
k8s = sys.argv[1]
def load(p):
    return [d for d in yaml.safe_load_all(open(p)) if d is not None]
kz = load(os.path.join(k8s, "kustomization.yaml"))[0]
text = open(os.path.join(k8s, "kustomization.yaml")).read()
# resources, also those commented out for clusters that have the CRDs
named = list(kz.get("resources", [])) + re.findall(r"^#\s+-\s+(\S+\.yaml)\s*$", text, re.M)
missing = [r for r in named if not os.path.exists(os.path.join(k8s, r))]
print(("FAIL" if missing else "OK") + "\tkustomization: resources exist" +
      (f"\tmissing: {missing}" if missing else ""))
print(("OK" if kz.get("namespace") == "warmpath" else "FAIL") + "\tkustomization: namespace warmpath")
comps = list(kz.get("components", [])) + re.findall(r"^#\s+-\s+(components/\S+)\s*$", text, re.M)
ds = [d for d in load(os.path.join(k8s, "daemonset.yaml")) if d["kind"] == "DaemonSet"][0]
for c in comps:
    cdir = os.path.join(k8s, c)
    ck = os.path.join(cdir, "kustomization.yaml")
    if not os.path.exists(ck):
        print(f"FAIL\tcomponent {c}\tno kustomization.yaml")
        continue
    cz = load(ck)[0]
    print(("OK" if cz.get("kind") == "Component" else "FAIL") + f"\tcomponent {c}: kind Component")
    for p in cz.get("patches", []):
        pp = os.path.join(cdir, p["path"])
        if not os.path.exists(pp):
            print(f"FAIL\tcomponent {c}: patch {p['path']}\tmissing")
            continue
        ok = p.get("target", {}).get("name") == ds["metadata"]["name"]
        print(("OK" if ok else "FAIL") + f"\tcomponent {c}: patch targets the DaemonSet")
        for op in load(pp)[0]:
            node, found = ds, True
            parts = op["path"].strip("/").split("/")
            for part in parts[:-1] if op["op"] == "add" else parts:
                try:
                    node = node[int(part)] if isinstance(node, list) else node[part]
                except (KeyError, IndexError, ValueError):
                    found = False
                    break
            print(("OK" if found else "FAIL") + f"\tcomponent {c}: {op['op']} {op['path']} resolves")
        priv = [o for o in load(pp)[0] if o["path"].endswith("/securityContext")]
        if priv:
            sc = priv[0]["value"]
            ok = sc.get("privileged") is True and sc.get("allowPrivilegeEscalation") is not False
            print(("OK" if ok else "FAIL") + f"\tcomponent {c}: privileged and allowed to escalate (API rule)")
EOF
py_checks <"$WP_TMP/checks2.out"

# --- the DaemonSet and RBAC -----------------------------------------------------
"$PY" - "$K8S" >"$WP_TMP/ds.out" <<'EOF'
import glob, os, sys, yaml
k8s = sys.argv[1]
objs = []
for p in glob.glob(os.path.join(k8s, "*.yaml")):
    objs += [d for d in yaml.safe_load_all(open(p)) if isinstance(d, dict)]
def one(kind):
    found = [o for o in objs if o["kind"] == kind]
    return found[0] if found else {}
def check(cond, name, why=""):
    print(("OK" if cond else "FAIL") + "\t" + name + ("" if cond else "\t" + why))
ds = one("DaemonSet")
pod = ds["spec"]["template"]["spec"]
meta = ds["spec"]["template"]["metadata"]
c = pod["containers"][0]
sc = c.get("securityContext", {})
caps = sc.get("capabilities", {})
check(pod.get("hostNetwork") is True, "daemonset: hostNetwork")
check({"operator": "Exists"} in pod.get("tolerations", []), "daemonset: tolerates every taint")
check(pod.get("priorityClassName") == "system-node-critical", "daemonset: system-node-critical")
env = {e["name"]: e for e in c.get("env", [])}
check(env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
      "daemonset: NODE_NAME from the downward API")
check(sorted(caps.get("add", [])) == ["BPF", "NET_ADMIN", "PERFMON"], "daemonset: adds BPF, NET_ADMIN, PERFMON only",
      str(caps.get("add")))
check(caps.get("drop") == ["ALL"], "daemonset: drops ALL other capabilities")
check(sc.get("privileged") is False, "daemonset: not privileged")
check(sc.get("readOnlyRootFilesystem") is True, "daemonset: read-only root filesystem")
check(sc.get("runAsUser") == 0, "daemonset: runAsUser 0")
ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
    g = c.get(probe, {}).get("httpGet", {})
    port = ports.get(g.get("port"), g.get("port"))
    check(g.get("path") == path and port == 9051, f"daemonset: {probe} {path} on 9051", str(g))
args = c.get("args", [])
listen = [a.split("=", 1)[1] for a in args if a.startswith("--metrics-listen=")]
check(listen and listen[0].endswith(":9051"), "daemonset: --metrics-listen on 9051", str(listen))
ann = meta.get("annotations", {})
check(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == "9051",
      "daemonset: prometheus.io scrape annotations")
res = c.get("resources", {})
check(res.get("requests", {}).get("memory") and res.get("limits", {}).get("memory") and
      res.get("requests", {}).get("cpu"), "daemonset: resource requests and limits")
vols = {v["name"]: v for v in pod.get("volumes", [])}
mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
def host_path(mp):
    m = mounts.get(mp)
    return m and vols.get(m["name"], {}).get("hostPath", {}).get("path") == mp
check(host_path("/sys/fs/bpf") and not mounts["/sys/fs/bpf"].get("readOnly"), "daemonset: host bpffs mounted writable")
check(host_path("/sys/fs/bpf") and mounts["/sys/fs/bpf"].get("mountPropagation") in ("HostToContainer", "Bidirectional") and
      (mounts["/sys/fs/bpf"].get("mountPropagation") != "Bidirectional" or sc.get("privileged")),
      "daemonset: bpffs propagation allowed for its privilege")
check(host_path("/sys/kernel/btf") and mounts["/sys/kernel/btf"].get("readOnly"), "daemonset: BTF mounted read-only")
check(host_path("/var/run/wireguard") and mounts["/var/run/wireguard"].get("readOnly"),
      "daemonset: wireguard UAPI dir mounted read-only")
env = {e["name"]: e.get("value") for e in c.get("env", [])}
kf = env.get("WARMPATH_PROBE_KEY_FILE") or ""
km = [m for m in c.get("volumeMounts", []) if kf.startswith(m["mountPath"].rstrip("/") + "/")]
ksec = km and vols.get(km[0]["name"], {}).get("secret", {})
check(kf and km and km[0].get("readOnly") and ksec and ksec.get("secretName") == "warmpath-probe-key",
      "daemonset: probe key from the Secret warmpath-probe-key, mounted read-only", kf)
kz = [d for d in yaml.safe_load_all(open(os.path.join(k8s, "kustomization.yaml"))) if d][0]
gen = [g for g in kz.get("secretGenerator", []) if g.get("name") == "warmpath-probe-key"]
check(gen and any(f.endswith("=" + os.path.basename(kf)) or f.startswith(os.path.basename(kf) + "=")
                  for f in gen[0].get("files", [])),
      "kustomization: generates the Secret warmpath-probe-key with the key file the DaemonSet reads")
sa = one("ServiceAccount")
check(pod.get("serviceAccountName") == sa.get("metadata", {}).get("name"), "daemonset: runs as the ServiceAccount")
ns = sa.get("metadata", {}).get("namespace")
cr, crb, role, rb = one("ClusterRole"), one("ClusterRoleBinding"), one("Role"), one("RoleBinding")
def verbs(r, res):
    return sorted(v for rule in r.get("rules", []) if res in rule.get("resources", []) for v in rule["verbs"])
check(verbs(cr, "nodes") == ["get", "list", "watch"] and len(cr.get("rules", [])) == 1,
      "rbac: ClusterRole reads nodes, nothing else")
check(verbs(role, "pods") == ["get", "list", "watch"] and len(role.get("rules", [])) == 1 and
      role["metadata"].get("namespace") == ns, "rbac: Role reads pods in its own namespace only")
for b, r in ((crb, cr), (rb, role)):
    s = b.get("subjects", [{}])[0]
    check(b.get("roleRef", {}).get("name") == r["metadata"]["name"] and s.get("kind") == "ServiceAccount" and
          s.get("name") == sa["metadata"]["name"] and s.get("namespace") == ns,
          f"rbac: {b.get('kind')} binds the agent's ServiceAccount")
writes = {"create", "update", "patch", "delete", "deletecollection", "*"}
check(not any(set(rule["verbs"]) & writes for r in (cr, role) for rule in r.get("rules", [])), "rbac: no write verb")
for a in args:
    if a.startswith("-"):
        print("FLAG\t" + a.split("=", 1)[0])
print("ARG0\t" + (args[0] if args else ""))
EOF
py_checks < <(grep -E '^(OK|FAIL)' "$WP_TMP/ds.out")

# --- every flag the DaemonSet passes is one `warmpath run --help` lists ----------
HELP=$("$WARMPATH" run --help 2>&1)
check_eq "$(awk -F'\t' '$1 == "ARG0" { print $2 }' "$WP_TMP/ds.out")" run "daemonset: args start with 'run'"
nflags=0
while IFS=$'\t' read -r _ flag; do
	nflags=$((nflags + 1))
	if grep -qE -- "(^|[ ,])$flag([ ,=]|\$)" <<<"$HELP"; then
		ok "daemonset flag $flag is in 'warmpath run --help'"
	else
		fail "daemonset flag $flag is in 'warmpath run --help'" "not listed"
	fi
done < <(grep '^FLAG' "$WP_TMP/ds.out")
check_true "daemonset passes --kubernetes" grep -q $'^FLAG\t--kubernetes$' "$WP_TMP/ds.out"
check_true "daemonset: flags found" test "$nflags" -gt 0

# --- alerts: promtool accepts them and they fire -----------------------------------
"$PY" - "$K8S/prometheusrule.yaml" "$WP_TMP/rules.yaml" "$WP_TMP/rules_bare.yaml" <<'EOF'
import copy, sys, yaml
pr = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d][0]
yaml.safe_dump({"groups": pr["spec"]["groups"]}, open(sys.argv[2], "w"), sort_keys=False)
# for `promtool test rules`: the expressions, without the annotations it would compare
bare = copy.deepcopy(pr["spec"]["groups"])
for g in bare:
    for r in g["rules"]:
        r.pop("annotations", None)
yaml.safe_dump({"groups": bare}, open(sys.argv[3], "w"), sort_keys=False)
EOF
OUT=$("$PROMTOOL" check rules "$WP_TMP/rules.yaml" 2>&1)
check_rc $? 0 "promtool check rules: prometheusrule.yaml"
check_nomatch "$OUT" "FAILED|warning" "promtool check rules: no warning"
for a in WarmpathFirstPacketDropsRising WarmpathProbeFailures WarmpathAgentNotReady \
	WarmpathKernelDropsOnWireGuard WarmpathNodeFirstPacketDrops WarmpathNodePeersFailing \
	WarmpathProbesBypassTunnel WarmpathUnmatchedTraffic WarmpathLifetimeTrialsHitWorkload; do
	check_true "alert $a is defined" grep -q "alert: $a\$" "$WP_TMP/rules.yaml"
done
# the alerts against made-up series: deploy_rules_test.yaml
cp "$(dirname "$0")/deploy_rules_test.yaml" "$WP_TMP/rules_test.yaml"
OUT=$(cd "$WP_TMP" && "$PROMTOOL" test rules rules_test.yaml 2>&1)
RC=$?
check_rc $RC 0 "promtool test rules: the alerts fire on made-up series (and only where due)"
[ "$RC" = 0 ] || info "$OUT"

# --- metric names: the dashboard's and the alerts' queries use exported names ------
grep -rhoE '"warmpath_[a-z0-9_]+"' "$WP_ROOT"/user/*/*.c "$WP_ROOT"/headers/*.h "$WP_ROOT"/bpf/*.c 2>/dev/null |
	tr -d '"' | sort -u >"$WP_TMP/exported"
check_true "agent sources export metrics" test -s "$WP_TMP/exported"
DASH=$DEPLOY/grafana/warmpath.json
check_true "dashboard: valid JSON" jq -e . "$DASH" >/dev/null
check_eq "$(jq '[.panels[] | select(.type != "row")] | length >= 10' "$DASH")" true \
	"dashboard: has its panels"
check_eq "$(jq '[.panels[].id] | length == (unique | length)' "$DASH")" true "dashboard: panel ids unique"
for t in heatmap timeseries; do
	check_eq "$(jq --arg t "$t" '[.panels[] | select(.type == $t)] | length > 0' "$DASH")" true \
		"dashboard: has a $t panel"
done
for m in warmpath_probe_rtt_seconds_bucket warmpath_syn_rtt_seconds_bucket \
	warmpath_cold_starts_total warmpath_first_packet_drops_total warmpath_probes_sent_total \
	warmpath_keepalives_suppressed_total warmpath_kernel_drops_total \
	warmpath_node_probe_rtt_seconds_bucket warmpath_node_syn_rtt_seconds_bucket \
	warmpath_node_cold_start_recovery_seconds_bucket warmpath_node_first_packet_drops_total \
	warmpath_node_probes_failed_total warmpath_node_peers warmpath_worst_peer_score; do
	check_true "dashboard: queries $m" grep -qE "$m([^a-z_]|\$)" "$DASH"
done
# the default budget's views: node-level panels, the worst-peers table, the pair heatmap
check_eq "$(jq '[.panels[] | select(.type == "table") | .targets[].expr |
	select(test("warmpath_worst_peer_score"))] | length' "$DASH")" 1 "dashboard: a worst-peers table"
check_eq "$(jq '[.panels[] | select(.type == "heatmap") | .targets[].expr |
	select(test("by \\(node, peer\\)"))] | length' "$DASH")" 1 "dashboard: a pair heatmap (node x peer)"
check_eq "$(jq '[.panels[] | select(.type != "row") | .targets[].expr |
	select(test("warmpath_node_"))] | length >= 8' "$DASH")" true "dashboard: node-level panels"
check_match "$(jq -r '.templating.list[] | select(.name == "peer") | .definition' "$DASH")" \
	warmpath_probes_sent_total "dashboard: \$peer from a family every per-peer mode exports"
# every expression and variable query, then every warmpath_ name in them
jq -r '.. | objects | (.expr?, .definition?) // empty' "$DASH" >"$WP_TMP/dash_exprs"
"$PY" -c 'import sys, yaml
pr = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d][0]
for g in pr["spec"]["groups"]:
    for r in g["rules"]:
        print(r["expr"])' "$K8S/prometheusrule.yaml" >"$WP_TMP/rule_exprs"
for src in dash_exprs rule_exprs; do
	bad=
	n=0
	# shellcheck disable=SC2013 # metric names are words
	for m in $(grep -oE '\bwarmpath_[a-z0-9_]+' "$WP_TMP/$src" | sort -u); do
		n=$((n + 1))
		base=$(sed -E 's/_(bucket|sum|count)$//' <<<"$m")
		grep -qxF "$m" "$WP_TMP/exported" || grep -qxF "$base" "$WP_TMP/exported" ||
			bad="$bad $m"
	done
	check_eq "${bad# }" "" "${src%_exprs}: every metric queried ($n) is exported by the agent"
done
# outside warmpath_: only Prometheus' own `up`
check_eq "$(grep -oE '\b[a-z_]+\{' "$WP_TMP/rule_exprs" | grep -v '^warmpath_' | sort -u | tr -d '{' | tr '\n' ' ')" \
	"up " "rules: no metric of another exporter but up"

# --- Dockerfile: the runtime stage has every library the binary loads ---------------
DF=$DEPLOY/Dockerfile
# packages on `apt-get install` lines of a stage (1: build, 2: runtime)
stage_pkgs()
{
	awk -v want="$1" '
		/^FROM / { stage++ }
		stage == want { print }
	' "$DF" | sed 's/\\$//' | tr -s ' \t' '\n' |
		awk '/^apt-get$/ { a = 1; next } a && /^install$/ { i = 1; next }
		     /^&&$/ { a = i = 0 } i && !/^-/ && NF' | sort -u
}
stage_pkgs 2 >"$WP_TMP/runtime_pkgs"
stage_pkgs 1 >"$WP_TMP/build_pkgs"
check_eq "$(grep -c '^FROM ' "$DF")" 2 "dockerfile: two stages"
check_match "$(grep '^FROM ' "$DF" | head -1)" 'debian:bookworm AS build' "dockerfile: bookworm build stage"
check_match "$(grep '^FROM ' "$DF" | tail -1)" 'debian:bookworm-slim' "dockerfile: bookworm-slim runtime"
check_true "dockerfile: runtime packages found" test -s "$WP_TMP/runtime_pkgs"
# the runtime packages and everything they depend on (installed here: same Debian)
deps_closure()
{
	local -a todo
	local -A seen=()
	local p d

	mapfile -t todo <"$1"
	while [ ${#todo[@]} -gt 0 ]; do
		p=${todo[0]}
		todo=("${todo[@]:1}")
		[ -n "${seen[$p]:-}" ] && continue
		seen[$p]=1
		echo "$p"
		while read -r d; do
			todo+=("$d")
		done < <(dpkg-query -W -f='${Depends},${Pre-Depends}' "$p" 2>/dev/null |
			tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/:any//; s/ //g' | grep .)
	done
}
deps_closure "$WP_TMP/runtime_pkgs" | sort -u >"$WP_TMP/runtime_closure"
# pkg_of PATH: the Debian package owning a file (usrmerge: /lib is /usr/lib)
pkg_of()
{
	local f cand pkg

	f=$(readlink -f "$1")
	for cand in "$1" "/usr${1#/usr}" "${1#/usr}" "$f" "/usr${f#/usr}" "${f#/usr}"; do
		pkg=$(dpkg -S "$cand" 2>/dev/null | head -1 | cut -d: -f1)
		if [ -n "$pkg" ]; then
			echo "$pkg"
			return 0
		fi
	done
	return 1
}
nlibs=0
while read -r lib path; do
	[ -n "$path" ] || continue
	nlibs=$((nlibs + 1))
	pkg=$(pkg_of "$path")
	if [ -z "$pkg" ]; then
		fail "dockerfile: runtime has $lib" "no Debian package owns $path"
	elif [ "$pkg" = libc6 ] || grep -qxF "$pkg" "$WP_TMP/runtime_closure"; then
		ok "dockerfile: runtime has $lib ($pkg)"
	else
		fail "dockerfile: runtime has $lib" "package $pkg not installed by the runtime stage"
	fi
done < <(ldd "$WARMPATH" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }')
check_true "dockerfile: ldd listed libraries" test "$nlibs" -gt 0
# the libraries the binary links directly are named, not left to chance
for so in $(readelf -d "$WARMPATH" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
	path=$(ldd "$WARMPATH" | awk -v so="$so" '$1 == so { print $3 }')
	pkg=$(pkg_of "$path")
	if [ "$pkg" = libc6 ] || grep -qxF "$pkg" "$WP_TMP/runtime_pkgs"; then
		ok "dockerfile: runtime names $pkg for $so"
	else
		fail "dockerfile: runtime names the package of $so" "${pkg:-?} not on its apt-get install line"
	fi
done
# the build stage has the -dev package of every pkg-config module the Makefile links
# shellcheck disable=SC2013 # module names are words
for pc in $(sed -n 's/^PKGS *:= *//p' "$WP_ROOT/Makefile"); do
	pcfile=$(pkg-config --variable=pcfiledir "$pc" 2>/dev/null)/$pc.pc
	pkg=$(pkg_of "$pcfile")
	if [ -n "$pkg" ] && grep -qxF "$pkg" "$WP_TMP/build_pkgs"; then
		ok "dockerfile: build stage installs $pkg ($pc)"
	else
		fail "dockerfile: build stage installs the package of $pc" "${pkg:-?} missing"
	fi
done
for tool in clang llvm bpftool make gcc pkg-config; do
	check_true "dockerfile: build stage installs $tool" grep -qxF "$tool" "$WP_TMP/build_pkgs"
done
check_match "$(cat "$DF")" 'COPY --from=build /src/warmpath /usr/bin/warmpath' \
	"dockerfile: the runtime gets the binary from the build stage"

# --- systemd ------------------------------------------------------------------------
UNIT=$DEPLOY/systemd/warmpath.service
for want in '^CapabilityBoundingSet=.*CAP_BPF' '^CapabilityBoundingSet=.*CAP_NET_ADMIN' \
	'^CapabilityBoundingSet=.*CAP_PERFMON' '^AmbientCapabilities=.*CAP_BPF' \
	'^ProtectSystem=strict$' '^ReadWritePaths=/sys/fs/bpf$' '^Restart=on-failure$' \
	'^EnvironmentFile=-/etc/default/warmpath$' '^NoNewPrivileges=yes$' \
	'^ExecStart=/usr/local/bin/warmpath run '; do
	check_true "systemd unit: /$want/" grep -qE -- "$want" "$UNIT"
done
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$WP_TMP/unit"
	sed "s|/usr/local/bin/warmpath|$WARMPATH|" "$UNIT" >"$WP_TMP/unit/warmpath.service"
	OUT=$(systemd-analyze verify "$WP_TMP/unit/warmpath.service" 2>&1)
	check_rc $? 0 "systemd-analyze verify warmpath.service"
	[ -z "$OUT" ] || info "$OUT"
else
	info "systemd-analyze not installed: unit not verified"
fi

# --- SPDX ---------------------------------------------------------------------------
bad=
while read -r f; do
	case "$f" in *.json) continue ;; esac
	head -3 "$f" | grep -q 'SPDX-License-Identifier:' || bad="$bad ${f#"$WP_ROOT"/}"
done < <(find "$DEPLOY" -type f | sort)
check_eq "${bad# }" "" "deploy/: every file but JSON has an SPDX line"
check_true "deploy/README.md says JSON carries no SPDX line" grep -q 'SPDX' "$DEPLOY/README.md"

summary
