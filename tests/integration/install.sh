#!/usr/bin/env bash
# cmake --install puts the binary, the systemd unit (reload by SIGHUP, the prefix's paths), the
# reference config as an example and the license where a packager expects them; the installed
# binary runs and `check` reads the installed example.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/harness/assert.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
build=$(dirname "$CDC_AGENT")
# the prefix the tree was configured with (default /usr/local): the unit names its paths
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
DESTDIR=$tmp/root cmake --install "$build" >"$tmp/install.log"
r=$tmp/root$prefix
for f in bin/cdc-agent lib/systemd/system/cdc-agent.service etc/cdc-agent/agent.yaml.example \
         share/doc/cdc-agent/LICENSE share/doc/cdc-agent/README.md share/doc/cdc-agent/reference.yaml \
         share/doc/cdc-agent/docs/design.md share/doc/cdc-agent/docs/configuration.md; do
    [ -f "$r/$f" ] && ok || bad "installed $f"
done
unit=$(cat "$r/lib/systemd/system/cdc-agent.service")
assert_contains "$unit" 'ExecReload=/bin/kill -HUP $MAINPID' "unit: reload sends SIGHUP"
assert_contains "$unit" "ExecStart=$prefix/bin/cdc-agent run -c $prefix/etc/cdc-agent/agent.yaml" "unit: the prefix's paths"
assert_not_contains "$unit" "@" "unit: every placeholder filled"
run "$r/bin/cdc-agent" version
assert_eq 0 "$rc" "installed binary runs"
assert_contains "$(head -3 "$r/share/doc/cdc-agent/LICENSE")" "Apache License" "license"
if command -v systemd-analyze >/dev/null; then
    sed "s#$prefix/bin/cdc-agent#$r/bin/cdc-agent#g" "$r/lib/systemd/system/cdc-agent.service" >"$tmp/cdc-agent.service"
    run systemd-analyze verify "$tmp/cdc-agent.service"
    assert_not_contains "$out" "Unknown key" "systemd-analyze: no unknown key"
fi
finish
