#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# test.sh: the README's test command. On a fresh Debian 12 it installs what is
# missing, configures the build dir (default build/; reused when it exists),
# compiles and runs the whole suite (`meson test`, each test under its own
# Xvfb), then prints one plain line "N passed, N failed, N skipped". Its exit
# status is meson test's.
#
#   build-aux/test.sh [BUILDDIR]
#   DINOLAB_MESON_OPTS="-Db_sanitize=address,undefined -Db_lundef=false" \
#     build-aux/test.sh build-asan      # extra `meson setup` options
#
# GUI screenshots land in BUILDDIR/tests/gui/screenshots/.

set -eu
cd "$(dirname "$0")/.."
builddir=${1:-build}
opts=${DINOLAB_MESON_OPTS:-}

sh build-aux/setup-debian.sh

if [ -f "$builddir/build.ninja" ]; then
  if [ -n "$opts" ]; then
    # shellcheck disable=SC2086  # word splitting of the options is wanted
    meson configure "$builddir" $opts
  fi
else
  # shellcheck disable=SC2086
  meson setup "$builddir" $opts
fi
meson compile -C "$builddir"

# A stale log from an earlier run must not be counted.
log="$builddir/meson-logs/testlog.json"
rm -f "$log"
rc=0
meson test -C "$builddir" --print-errorlogs || rc=$?

if [ -f "$log" ]; then
  passed=$(grep -c '"result": "OK"' "$log" || true)
  failed=$(grep -cE '"result": "(FAIL|ERROR|TIMEOUT|UNEXPECTEDPASS)"' "$log" || true)
  skipped=$(grep -c '"result": "SKIP"' "$log" || true)
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "test.sh: meson test wrote no $log" >&2
  [ "$rc" -ne 0 ] || rc=1
fi
exit "$rc"
