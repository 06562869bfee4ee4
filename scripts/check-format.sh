#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Fails when clang-format (Debian 12: version 14) would change a tracked C file.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=()
while IFS= read -r f; do
  [ -f "$f" ] || continue
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.c' '*.h' 2>/dev/null; git ls-files --others --exclude-standard '*.c' '*.h' 2>/dev/null)
if [ ${#bad[@]} -gt 0 ]; then
  echo "check-format: clang-format disagrees with: ${bad[*]}" >&2
  echo "check-format: run 'clang-format -i' on them" >&2
  exit 1
fi
echo "check-format: ok"
