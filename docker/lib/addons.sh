# The installed addons, asked from the registry (packages/addons, the only list of engines).
# Shared by docker/local-images/build.sh and scripts/services.sh. Needs the workspace installed
# (pnpm install). Source it after defining die.
# shellcheck shell=bash

BERTH_ADDONS_PACKAGE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../packages/addons" && pwd)

# addons_list: one line per installed addon, tab-separated: id, environment prefix
# (BERTH_ADDON_<ID>_), local image tag, local image recipe (`-` when the addon has none).
addons_list() {
  [[ -d $BERTH_ADDONS_PACKAGE/node_modules/tsx ]] ||
    die "the workspace is not installed (packages/addons has no tsx): run pnpm install --frozen-lockfile first"
  (cd "$BERTH_ADDONS_PACKAGE" && node --import tsx src/cli.ts list) || die "could not list the installed addons (packages/addons/src/cli.ts list)"
}
