#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# setup-debian.sh: installs the Debian 12 packages that Dinolab needs to build,
# test and run, and only those that are missing, without questions. When all
# are there it only asks dpkg and returns (well under a second), so the README's
# run and test commands call it every time. It does not build anything.
#
# Runs apt as root, or through sudo otherwise. Set DINOLAB_SKIP_SETUP=1 to skip.

# shellcheck disable=SC2086  # the package and option lists are split on purpose

set -eu

# What each is for: the toolchain; GLib, GTK 4 and libadwaita (the app);
# OpenBLAS (every matrix product); SQLite (the run store); Cairo (plots);
# json-glib (hyperparameters); gdk-pixbuf (image folders); appstream and
# desktop-file-utils (data file checks); Xvfb, xauth, xdotool, ImageMagick,
# Mesa and a font (headless GUI tests); Fashion-MNIST (the default dataset).
packages="
  build-essential meson ninja-build pkg-config gettext
  libglib2.0-dev libgtk-4-dev libadwaita-1-dev libopenblas-dev libsqlite3-dev
  libcairo2-dev libjson-glib-dev libgdk-pixbuf-2.0-dev
  appstream desktop-file-utils
  xvfb xauth xdotool imagemagick libgl1-mesa-dri fonts-dejavu-core
  dataset-fashion-mnist
"

if [ "${DINOLAB_SKIP_SETUP:-}" = 1 ]; then
  exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-debian.sh: not a Debian system (no dpkg/apt); install the equivalents of:" >&2
  printf '  %s\n' "$(printf '%s ' $packages)" >&2
  echo "setup-debian.sh: carrying on with what is installed" >&2
  exit 0
fi

# One dpkg-query for all: it prints "<name> <status>" for the known ones and
# complains on stderr about packages it has never heard of (not installed).
installed=" $(dpkg-query -W -f='${Package} ${db:Status-Status}\n' $packages 2>/dev/null \
               | awk '$2 == "installed" { printf "%s ", $1 }' || true) "
missing=""
for p in $packages; do
  case "$installed" in
    *" $p "*) ;;
    *) missing="$missing $p" ;;
  esac
done

if [ -z "$missing" ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1; then
  sudo="sudo"
else
  echo "setup-debian.sh: these packages are missing and I am neither root nor have sudo:" >&2
  echo " $missing" >&2
  exit 1
fi

echo "setup-debian.sh: installing:$missing" >&2
apt_opts="-o DPkg::Lock::Timeout=600"
$sudo apt-get $apt_opts update -q
# --no-upgrade is NOT passed: the -dev packages may need newer point releases
# of libraries that are already installed.
$sudo env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q $apt_opts --no-install-recommends $missing
