/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * dinolab-plot-axis.c: value <-> [0,1] mapping and nice ticks for the plot
 * widget (see dinolab-plot-axis.h). Pure arithmetic on doubles; it is not
 * where anything is drawn or laid out.
 */
#define G_LOG_DOMAIN "dinolab-plot-axis"

#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dinolab-plot-axis.h"

/* ---- range and mapping --------------------------------------------------- */

void
dinolab_plot_axis_init (DinolabPlotAxis  *axis,
                        DinolabPlotScale  scale,
                        double            min,
                        double            max)
{
  g_return_if_fail (axis != NULL);

  axis->scale = scale;
  if (!isfinite (min) || !isfinite (max))
    {
      min = scale == DINOLAB_PLOT_SCALE_LOG ? 0.1 : 0.0;
      max = 1.0;
    }
  if (min > max)
    {
      double t = min;
      min = max;
      max = t;
    }

  if (scale == DINOLAB_PLOT_SCALE_LOG)
    {
      if (max <= 0.0)
        {
          min = 0.1;
          max = 1.0;
        }
      else if (min <= 0.0)
        min = max / 10.0;
      /* one value, or a span below double resolution in log space */
      if (max <= min * (1.0 + 1e-9))
        {
          min /= 2.0;
          max *= 2.0;
        }
    }
  else if (max - min <= 1e-12 * MAX (fabs (min), fabs (max)) || max == min)
    {
      double half = min == 0.0 ? 1.0 : 0.1 * fabs (min);
      min -= half;
      max += half;
    }

  axis->min = min;
  axis->max = max;
}

void
dinolab_plot_axis_pad (DinolabPlotAxis *axis,
                       double           fraction)
{
  g_return_if_fail (axis != NULL);

  if (axis->scale == DINOLAB_PLOT_SCALE_LOG)
    {
      double lo = log10 (axis->min), hi = log10 (axis->max);
      double pad = fraction * (hi - lo);
      axis->min = pow (10.0, lo - pad);
      axis->max = pow (10.0, hi + pad);
    }
  else
    {
      double pad = fraction * (axis->max - axis->min);
      axis->min -= pad;
      axis->max += pad;
    }
}

double
dinolab_plot_axis_map (const DinolabPlotAxis *axis,
                       double                 value)
{
  g_return_val_if_fail (axis != NULL, NAN);

  if (!isfinite (value))
    return NAN;
  if (axis->scale == DINOLAB_PLOT_SCALE_LOG)
    {
      if (value <= 0.0)
        return NAN;
      return log10 (value / axis->min) / log10 (axis->max / axis->min);
    }
  return (value - axis->min) / (axis->max - axis->min);
}

double
dinolab_plot_axis_unmap (const DinolabPlotAxis *axis,
                         double                 t)
{
  g_return_val_if_fail (axis != NULL, NAN);

  if (axis->scale == DINOLAB_PLOT_SCALE_LOG)
    return axis->min * pow (axis->max / axis->min, t);
  return axis->min + t * (axis->max - axis->min);
}

/* ---- ticks --------------------------------------------------------------- */

double
dinolab_plot_axis_nice_step (double span,
                             int    max_ticks)
{
  static const double mantissas[] = { 1.0, 2.0, 5.0, 10.0 };
  double raw, magnitude;
  guint i;

  g_return_val_if_fail (span > 0.0 && max_ticks >= 1, 1.0);

  raw = span / max_ticks;
  magnitude = pow (10.0, floor (log10 (raw)));
  for (i = 0; i < G_N_ELEMENTS (mantissas); i++)
    /* a hair of tolerance, so that 1.0 / 5 asks for 0.2 and not 0.5 */
    if (mantissas[i] * magnitude >= raw * (1.0 - 1e-9))
      return mantissas[i] * magnitude;
  return 10.0 * magnitude;
}

/* Multiples of @step inside [lo, hi]; computed as k * step, not by adding,
 * so that 0.1 + 0.1 + 0.1 never shows as 0.30000000000000004. */
static guint
linear_ticks (double  lo,
              double  hi,
              double  step,
              double *ticks,
              guint   n_max)
{
  double k0 = ceil (lo / step - 1e-9);
  double k1 = floor (hi / step + 1e-9);
  guint n = 0;
  double k;

  for (k = k0; k <= k1 && n < n_max; k++)
    {
      double v = k * step;
      ticks[n++] = fabs (v) < 1e-9 * step ? 0.0 : v;  /* no -0 */
    }
  return n;
}

guint
dinolab_plot_axis_ticks (const DinolabPlotAxis *axis,
                         int                    max_ticks,
                         double                *ticks,
                         double                *step)
{
  double lo, hi, lstep;
  guint n = 0;

  g_return_val_if_fail (axis != NULL && ticks != NULL, 0);
  g_return_val_if_fail (max_ticks >= 2 && max_ticks <= DINOLAB_PLOT_AXIS_MAX_TICKS, 0);

  if (axis->scale == DINOLAB_PLOT_SCALE_LOG)
    {
      double e0, e1, e, decade_step;
      double decades;

      lo = log10 (axis->min);
      hi = log10 (axis->max);
      decades = hi - lo;
      e0 = ceil (lo - 1e-9);
      e1 = floor (hi + 1e-9);

      /* 1, 2, 5 per decade while they fit */
      if (3.0 * (decades + 1.0) <= max_ticks)
        {
          static const double mantissas[] = { 1.0, 2.0, 5.0 };
          for (e = floor (lo) ; e <= e1 && n < (guint) max_ticks; e++)
            {
              guint i;
              for (i = 0; i < G_N_ELEMENTS (mantissas) && n < (guint) max_ticks; i++)
                {
                  double v = mantissas[i] * pow (10.0, e);
                  if (v >= axis->min * (1.0 - 1e-9) && v <= axis->max * (1.0 + 1e-9))
                    ticks[n++] = v;
                }
            }
          if (n >= 2)
            {
              if (step != NULL)
                *step = 0.0;
              return n;
            }
          n = 0;
        }
      else if (e1 - e0 >= 1.0)
        {
          decade_step = ceil (dinolab_plot_axis_nice_step (MAX (e1 - e0, 1.0), max_ticks - 1));
          for (e = ceil (e0 / decade_step) * decade_step; e <= e1 && n < (guint) max_ticks;
               e += decade_step)
            ticks[n++] = pow (10.0, e);
          if (n < 2)
            {
              /* the step overshot the few decades a short axis has room for:
               * label the outermost whole decades rather than fall back to
               * linear values, which crowd together at the top of a log axis */
              ticks[0] = pow (10.0, e0);
              ticks[1] = pow (10.0, e1);
              n = 2;
            }
          if (step != NULL)
            *step = 0.0;
          return n;
        }
      /* less than a decade: evenly spaced values, mapped by log10 */
      lo = axis->min;
      hi = axis->max;
    }
  else
    {
      lo = axis->min;
      hi = axis->max;
    }

  /* The largest nice step that still puts two ticks inside the range. The step
   * asked for max_ticks - 1 intervals can skip over a short axis (0.6..4.4 with
   * two ticks asks for 5, and no multiple of 5 is inside), so smaller steps are
   * tried until two fit; a count above max_ticks keeps its ends (never cutting
   * off the top of the axis). */
  {
    double all[4 * DINOLAB_PLOT_AXIS_MAX_TICKS + 4];
    int k;

    lstep = 1.0;
    n = 0;
    for (k = max_ticks - 1; k <= 4 * max_ticks && n < 2; k++)
      {
        lstep = dinolab_plot_axis_nice_step (hi - lo, k);
        n = linear_ticks (lo, hi, lstep, all, G_N_ELEMENTS (all));
      }
    if (n > (guint) max_ticks)
      {
        /* too many: a coarser nice step (x2 keeps 1 and 5 nice, x5 keeps 2
         * nice, x10 all) if it still has two inside; else the first ones */
        static const double strides[] = { 2.0, 5.0, 10.0 };
        double mantissa = lstep / pow (10.0, floor (log10 (lstep) + 1e-9));
        guint i;
        for (i = 0; i < G_N_ELEMENTS (strides); i++)
          {
            double coarse = lstep * strides[i];
            guint m;
            if (strides[i] == 2.0 && fabs (mantissa - 2.0) < 1e-6)
              continue;
            m = linear_ticks (lo, hi, coarse, ticks, max_ticks);
            if (m >= 2)
              {
                if (step != NULL)
                  *step = coarse;
                return m;
              }
          }
        n = max_ticks;
      }
    memcpy (ticks, all, n * sizeof (double));
  }
  if (step != NULL)
    *step = lstep;
  return n;
}

char *
dinolab_plot_axis_format (double  value,
                          double  step,
                          char   *buf,
                          gsize   size)
{
  g_return_val_if_fail (buf != NULL && size > 0, buf);

  if (value == 0.0)  /* also turns -0 into 0 */
    value = 0.0;
  if (step <= 0.0 || fabs (value) >= 1e6 || step < 1e-4)
    g_snprintf (buf, size, "%g", value);
  else
    {
      int decimals;

      /* the fewest decimals that write every multiple of @step exactly */
      for (decimals = 0; decimals < 6; decimals++)
        {
          double scaled = step * pow (10.0, decimals);
          if (fabs (scaled - round (scaled)) < 1e-6 * scaled)
            break;
        }
      g_snprintf (buf, size, "%.*f", decimals, value);
      if (g_str_equal (buf, "-0") || (buf[0] == '-' && strspn (buf + 1, "0.") == strlen (buf + 1)))
        g_snprintf (buf, size, "%.*f", decimals, 0.0);
    }
  return buf;
}
