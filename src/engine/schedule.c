/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * schedule.c: the reference's schedules as pure functions of the iteration or epoch
 * (DINO.md 4 and 5.2). utils.cosine_scheduler builds an array of epochs*niter values and
 * the trainer indexes it; here the value at one index is computed directly, in the same
 * floating-point order as NumPy (linspace: start + i*step with the last point set to the
 * end exactly; cosine: final + (0.5*(base - final)) * (1 + cos((pi*i)/n))), so the numbers
 * match the reference's to the last bit or two.
 *
 * It keeps no state and knows nothing about the trainer; indices past the end are clamped
 * to the last value instead of failing as the reference's array would.
 */
#include "dinolab/optim.h"

#include <math.h>

/* numpy.linspace (start, stop, num)[i] for 0 <= i < num: start + i*step with
 * step = (stop - start)/(num - 1), and the last element exactly stop. num = 1 gives start. */
static double
linspace_at_ (double start,
              double stop,
              gint64 num,
              gint64 i)
{
    g_assert (num >= 1 && i >= 0 && i < num);

    if (num == 1)
        return start;
    if (i == num - 1)
        return stop;
    return (double) i * ((stop - start) / (double) (num - 1)) + start;
}

double
dinolab_schedule_cosine (double base,
                         double final,
                         int    epochs,
                         int    niter_per_epoch,
                         int    warmup_epochs,
                         double start_warmup_value,
                         gint64 it)
{
    gint64 total, warmup_iters, n, i;

    g_return_val_if_fail (epochs >= 1, base);
    g_return_val_if_fail (niter_per_epoch >= 1, base);

    total = (gint64) epochs * (gint64) niter_per_epoch;
    warmup_iters = (gint64) CLAMP (warmup_epochs, 0, epochs) * (gint64) niter_per_epoch;
    it = CLAMP (it, 0, total - 1);

    if (it < warmup_iters)
        return linspace_at_ (start_warmup_value, base, warmup_iters, it);

    n = total - warmup_iters;  /* >= 1 here because it < total */
    i = it - warmup_iters;
    return final + (0.5 * (base - final)) * (1.0 + cos ((G_PI * (double) i) / (double) n));
}

double
dinolab_schedule_teacher_temp (double warmup_teacher_temp,
                               double teacher_temp,
                               int    warmup_teacher_temp_epochs,
                               int    epoch)
{
    epoch = MAX (epoch, 0);
    if (epoch < warmup_teacher_temp_epochs)
        return linspace_at_ (warmup_teacher_temp, teacher_temp,
                             warmup_teacher_temp_epochs, epoch);
    return teacher_temp;
}
