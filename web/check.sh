#!/bin/sh
# CI check: rebuilds the web console and fails when the committed build
# (internal/console/dist) differs from what web/src builds to, or when
# the rebuild leaves files git does not track. The Go test
# TestDistIsBuiltFromSource (internal/console) checks the same in memory.
set -eu
cd "$(dirname "$0")/.."
web/build.sh
git diff --exit-code --stat -- internal/console/dist
untracked=$(git ls-files --others --exclude-standard -- internal/console/dist)
if [ -n "$untracked" ]; then
	echo "the console build wrote files that are not committed:"
	echo "$untracked"
	exit 1
fi
echo "web console: the committed build matches web/src"
