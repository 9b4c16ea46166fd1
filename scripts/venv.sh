# Sourced by scripts/run and scripts/test: make .venv and install the hub on first use,
# and again whenever pyproject.toml (or the example adapters' pyproject.toml) changes.
# The example plugin (examples/hub-example-adapters) is installed with the hub, as a
# separate package, so the tests prove a third-party adapter works. Needs only
# Python 3.11+ on the machine.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      python="$candidate"
      break
    fi
  done
fi
if [ -z "$python" ]; then
  echo "The hub needs Python 3.11 or newer on PATH." >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "Creating $venv with $python ..." >&2
  "$python" -m venv "$venv"
fi
example="$root/examples/hub-example-adapters"
stamp="$venv/.installed-$(cat "$root/pyproject.toml" "$example/pyproject.toml" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "Installing the hub and its tools into $venv ..." >&2
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet -e "$root[dev,demo]" -e "$example" >&2
  rm -f "$venv"/.installed-*
  touch "$stamp"
fi
export PATH="$venv/bin:$PATH"
cd "$root"
