# The start of an agent integration test, sourced first by tests/integration/*.sh: strict mode,
# $here (the tests/ directory), the assertions, the harness servers' environment, the agent
# helpers, and a temp dir in $tmp.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/harness/assert.sh"
load_harness_env
. "$here/harness/agent_lib.sh"
setup_tmp
