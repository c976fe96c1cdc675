/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-types.h: forward declarations of the GUI's types, so headers can
 * name each other's types without including each other. Include it instead
 * of a widget's header when a pointer is all you need. It declares no
 * functions; each type's own header does.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _DinolabApplication DinolabApplication;
typedef struct _DinolabConfigPage  DinolabConfigPage;
typedef struct _DinolabSession     DinolabSession;
typedef struct _DinolabTrainPage   DinolabTrainPage;
typedef struct _DinolabWindow      DinolabWindow;

G_END_DECLS
