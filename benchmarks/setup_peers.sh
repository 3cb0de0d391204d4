#!/usr/bin/env bash
# Create benchmarks/.venv-peers with the peers the benchmarks compare against.
# PyFlink (apache-flink, ~850 MB, needs Java 17) only with --pyflink.
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv-peers/bin/python ] || python3 -m venv .venv-peers
.venv-peers/bin/python -m pip install -q -U pip
.venv-peers/bin/python -m pip install -q "streamz==0.6.*" "bytewax==0.21.*"
if [ "${1:-}" = "--pyflink" ]; then
  .venv-peers/bin/python -m pip install -q "apache-flink==2.3.*"
fi
echo "peers ready: $(pwd)/.venv-peers/bin/python"
