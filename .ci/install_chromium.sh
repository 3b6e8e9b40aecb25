#!/usr/bin/env bash
# The serving page's tests (tests/test_serving.py) drive Debian's chromium headless.
# Idempotent: installs it only when it is missing.
set -euo pipefail
command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
