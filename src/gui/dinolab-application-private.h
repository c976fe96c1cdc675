/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-application-private.h: what dinolab-application.c and
 * dinolab-application-actions.c share. Not for use outside these two files.
 */
#pragma once

#include "dinolab-application.h"

G_BEGIN_DECLS

/* _dinolab_application_actions_init:
 * Adds the app.* actions and their keyboard accelerators to @self. Called
 * once, from startup. */
void _dinolab_application_actions_init (DinolabApplication *self);

G_END_DECLS
