#!/usr/bin/env bash
# The documentation holds together: every key of config/reference.yaml is in the key index of
# docs/configuration.md and every key of the index is in the reference; every link between the
# README and docs/ resolves; the README stays a short entry (under 250 lines); nothing refers to
# files outside the repository.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$here/.." && pwd)
. "$here/harness/assert.sh"

# keys of the reference: "key:" at the start of a line (commented out too, when the '#' starts the
# line's text), except the example entries under columns: and properties:
ref_keys=$(awk '
match($0, /^[ ]*(#[ ]*)?(- )?[a-z_]+:/) {
  s = substr($0, 1, RLENGTH); ind = match($0, /[^ ]/) - 1
  if (skip >= 0 && ind > skip) next
  skip = -1
  if (ind > 6 && substr($0, ind + 1, 1) == "#") next
  k = s; gsub(/^[ #-]*/, "", k); sub(/:$/, "", k); print k
  if (k == "columns" || k == "properties") skip = ind
}' "$root/config/reference.yaml" | sort -u)
index=$(sed -n '/^## Every key/,/^## /p' "$root/docs/configuration.md")
idx_keys=$(echo "$index" | grep '^|' | grep -o '`[a-z_]*`' | tr -d '`' | sort -u)
missing=$(comm -23 <(echo "$ref_keys") <(echo "$idx_keys") | tr '\n' ' ')
extra=$(comm -13 <(echo "$ref_keys") <(echo "$idx_keys") | tr '\n' ' ')
assert_eq "" "$missing" "every key of config/reference.yaml is in the index of docs/configuration.md"
assert_eq "" "$extra" "every key of that index is in config/reference.yaml"
[ "$(echo "$ref_keys" | wc -l)" -gt 50 ] && ok || bad "the reference's keys were read"

# links: [text](file.md) and [text](docs/file.md) resolve
broken=
for f in "$root/README.md" "$root"/docs/*.md; do
    for l in $(grep -o '](\([a-z_/.-]*\.md\))' "$f" | sed 's/^](//; s/)$//'); do
        [ -f "$(dirname "$f")/$l" ] || broken="$broken $(basename "$f"):$l"
    done
done
assert_eq "" "$broken" "every link between the README and docs/ resolves"
for d in commands configuration events sources sinks transforms api operations deployment design benchmarks testing layout; do
    grep -q "(docs/$d.md)" "$root/README.md" && ok || bad "the README links docs/$d.md"
done
lines=$(wc -l <"$root/README.md")
[ "$lines" -lt 250 ] && ok || bad "the README is a short entry: $lines lines"

# nothing outside the repository
outside=$(cd "$root" && git grep -n -e 'DESIGN "' -e 'DESIGN\.md' -e '\.\./shared' -e 'STYLE\.md' -e 'PLATFORM\.md' \
    -- ':!tests/integration/docs.sh' 2>/dev/null || true)
assert_eq "" "$outside" "no reference to files outside the repository"
finish
