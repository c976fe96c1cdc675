/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * error.h: the engine's GError domain. The engine never prints and never exits:
 * every failure comes back as a GError in this domain whose message names the file,
 * the key or tensor, and the value at fault. Front ends map the codes to what they
 * need (dinolab-cli: INVALID_INPUT -> exit status 2, everything else -> 1).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define DINOLAB_ERROR (dinolab_error_quark ())

typedef enum {
    DINOLAB_ERROR_INVALID_INPUT, /* bad argument, key, value, shape or file content */
    DINOLAB_ERROR_IO,            /* a file could not be read or written */
    DINOLAB_ERROR_CORRUPT,       /* a file is truncated or malformed */
    DINOLAB_ERROR_CANCELLED,     /* the work was stopped on request */
    DINOLAB_ERROR_DB,            /* the run store failed */
    DINOLAB_ERROR_DIVERGED,      /* training produced a non-finite loss */
} DinolabErrorCode;

GQuark dinolab_error_quark (void);

G_END_DECLS
