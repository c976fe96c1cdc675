/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "dinolab/error.h"

G_DEFINE_QUARK (dinolab-error-quark, dinolab_error)
