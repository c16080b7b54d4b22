# Sourced by scripts/demo, scripts/test and scripts/bench: create or refresh the
# project's virtual environment (.venv) when it is missing or pyproject.toml changed.
# Needs only Python 3.11+ on PATH (override with ECSUP_PYTHON=/path/to/python).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ECSUP_VENV:-$ROOT/.venv}"
EXTRAS="${1:-dev}"

find_python() {
  if [ -n "${ECSUP_PYTHON:-}" ]; then echo "$ECSUP_PYTHON"; return; fi
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      command -v "$candidate"; return
    fi
  done
  echo "ecsup needs Python 3.11 or newer on PATH (or ECSUP_PYTHON=/path/to/python)" >&2
  exit 1
}

stamp="$VENV/.ecsup-stamp-$EXTRAS"
want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setting up $VENV (ecsup[$EXTRAS]) ..." >&2
  [ -x "$VENV/bin/python" ] || "$(find_python)" -m venv "$VENV"
  log="$VENV/setup.log"
  if ! { "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip &&
         "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[$EXTRAS]"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "setting up $VENV failed (log above, also in $log)" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
# Never reach for real AWS or the instance metadata service from the project's scripts.
export AWS_EC2_METADATA_DISABLED=true
