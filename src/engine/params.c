/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * params.c: look-ups in the tensor table. The table itself is built by model.c,
 * which knows the network's shape; everything that walks parameters (optimizer,
 * clipping, EMA, files) goes through the table, never through hard-coded offsets.
 */
#include <stdio.h>
#include <string.h>

#include "dinolab/params.h"

const DinolabParamInfo *
dinolab_param_table_lookup (const DinolabParamTable *table,
                            const char              *name)
{
    g_return_val_if_fail (table != NULL, NULL);
    g_return_val_if_fail (name != NULL, NULL);

    for (guint i = 0; i < table->n; i++)
        if (strcmp (table->info[i].name, name) == 0)
            return &table->info[i];
    return NULL;
}

void
dinolab_param_format_shape (char *buf, size_t len, int ndim, const int64_t *shape)
{
    size_t used = 0;

    g_return_if_fail (buf != NULL && len > 0);
    buf[0] = '\0';
    used += (size_t) snprintf (buf, len, "[");
    for (int d = 0; d < ndim && used < len; d++)
        used += (size_t) snprintf (buf + used, len - used, "%s%lld", d ? "," : "",
                                   (long long) shape[d]);
    if (used < len)
        snprintf (buf + used, len - used, "]");
}
