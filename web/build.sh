#!/bin/sh
# Builds the web console: web/src -> internal/console/dist (what the
# binary embeds). Needs only Go. Run it after changing web/src and commit
# both. See web/README.md.
set -eu
cd "$(dirname "$0")/.."
exec go run ./internal/console/bundle/consolebuild -src web/src -out internal/console/dist
