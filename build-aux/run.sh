#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# run.sh: the README's run command. On a fresh Debian 12 it installs what is
# missing, configures build/ (once), compiles, then starts the GTK app when
# there is a display, or else a headless training run with the default preset.
# Arguments go to the program started (e.g. `--set epochs=1` for the CLI).
# It runs the build tree in place: nothing is installed.

set -eu
cd "$(dirname "$0")/.."

sh build-aux/setup-debian.sh

if [ ! -f build/build.ninja ]; then
  meson setup build
fi
meson compile -C build

# The build tree's settings schema and translations; an installed Dinolab
# finds both in /usr/share without these.
GSETTINGS_SCHEMA_DIR="$PWD/build/data${GSETTINGS_SCHEMA_DIR:+:$GSETTINGS_SCHEMA_DIR}"
DINOLAB_LOCALEDIR="$PWD/build/po"
export GSETTINGS_SCHEMA_DIR DINOLAB_LOCALEDIR

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -x build/src/gui/dinolab ]; then
  exec build/src/gui/dinolab "$@"
fi

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "run.sh: the GTK app was not built (GTK 4 or libadwaita missing at 'meson setup'); running headless" >&2
fi
exec build/src/cli/dinolab-cli train --preset default "$@"
