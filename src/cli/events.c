/* SPDX-License-Identifier: GPL-3.0-or-later
 *
 * events.c: the trainer-thread-to-main-loop event queue of events.h.
 */
#include "events.h"

struct CliEvents {
    CliEventFunc func;
    gpointer     data;
    GMutex       lock;
    GPtrArray   *queue;      /* DinolabTrainerEvent*, under lock */
    guint        idle_id;    /* under lock: 0 when no drain is queued */
};

static gboolean
drain_ (gpointer data)
{
    CliEvents *q = data;
    g_autoptr (GPtrArray) events = NULL;

    // Take the array and clear the idle under one lock, so an event added meanwhile
    // queues another idle instead of being left behind.
    g_mutex_lock (&q->lock);
    events = q->queue;
    q->queue = g_ptr_array_new_with_free_func ((GDestroyNotify) dinolab_trainer_event_free);
    q->idle_id = 0;
    g_mutex_unlock (&q->lock);

    for (guint i = 0; i < events->len; i++)
        q->func (events->pdata[i], q->data);
    return G_SOURCE_REMOVE;
}

CliEvents *
cli_events_new (CliEventFunc func, gpointer data)
{
    CliEvents *q = g_new0 (CliEvents, 1);

    q->func = func;
    q->data = data;
    g_mutex_init (&q->lock);
    q->queue = g_ptr_array_new_with_free_func ((GDestroyNotify) dinolab_trainer_event_free);
    return q;
}

void
cli_events_free (CliEvents *q)
{
    if (q == NULL)
        return;
    if (q->idle_id != 0)
        g_source_remove (q->idle_id);
    g_ptr_array_unref (q->queue);
    g_mutex_clear (&q->lock);
    g_free (q);
}

void
cli_events_push (const DinolabTrainerEvent *event, gpointer events)
{
    CliEvents *q = events;
    DinolabTrainerEvent *copy = dinolab_trainer_event_copy (event);

    g_mutex_lock (&q->lock);
    g_ptr_array_add (q->queue, copy);
    if (q->idle_id == 0)
        q->idle_id = g_idle_add_full (G_PRIORITY_DEFAULT, drain_, q, NULL);
    g_mutex_unlock (&q->lock);
}

gboolean
cli_event_is_terminal (const DinolabTrainerEvent *event)
{
    return event->kind == DINOLAB_TRAINER_EVENT_STATUS &&
           event->status != DINOLAB_TRAINER_STATUS_RUNNING &&
           event->status != DINOLAB_TRAINER_STATUS_PAUSED &&
           event->status != DINOLAB_TRAINER_STATUS_NEW;
}

void
cli_events_flush (CliEvents *q)
{
    g_mutex_lock (&q->lock);
    if (q->idle_id != 0) {
        g_source_remove (q->idle_id);
        q->idle_id = 0;
    }
    g_mutex_unlock (&q->lock);
    drain_ (q);
}
