/* test_waiters.c -- the long-poll registry: wake on notify, wake at the deadline, wake at stop,
 * exactly once each, and the cap on parked waiters. */
#include "harness/test.h"
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include "common/timeutil.h"
#include "core/waiters.h"

static atomic_int woken[64];

static void
wake(void *arg)
{
    atomic_fetch_add(&woken[(long)arg], 1);
}

static void
reset(void)
{
    for (int i = 0; i < 64; i++)
        atomic_store(&woken[i], 0);
}

static int
wait_for(int idx, int want, int ms)
{
    for (int i = 0; i < ms && atomic_load(&woken[idx]) < want; i++)
        usleep(1000);
    return atomic_load(&woken[idx]);
}

TEST(waiters_notify_wakes_every_waiter_of_the_account_once)
{
    reset();
    ASSERT_EQ(waiters_start(16), 0);
    int64_t far = time_mono_ms() + 60000;
    ASSERT_EQ(waiters_add("ca_a", far, wake, (void *)1L), 0);
    ASSERT_EQ(waiters_add("ca_a", far, wake, (void *)1L), 0);
    ASSERT_EQ(waiters_add("ca_b", far, wake, (void *)2L), 0);
    ASSERT_EQ(waiters_count(), 3);
    waiters_notify("ca_a");
    ASSERT_EQ(atomic_load(&woken[1]), 2);
    ASSERT_EQ(atomic_load(&woken[2]), 0);
    waiters_notify("ca_a"); /* nobody left for ca_a */
    ASSERT_EQ(atomic_load(&woken[1]), 2);
    ASSERT_EQ(waiters_count(), 1);
    waiters_stop(); /* wakes ca_b */
    ASSERT_EQ(atomic_load(&woken[2]), 1);
}

TEST(waiters_deadline_wakes_once)
{
    reset();
    ASSERT_EQ(waiters_start(16), 0);
    ASSERT_EQ(waiters_add("ca_c", time_mono_ms() + 50, wake, (void *)3L), 0);
    ASSERT_EQ(wait_for(3, 1, 2000), 1);
    waiters_notify("ca_c"); /* already woken by its deadline */
    usleep(20000);
    ASSERT_EQ(atomic_load(&woken[3]), 1);
    ASSERT_EQ(waiters_count(), 0);
    waiters_stop();
    ASSERT_EQ(atomic_load(&woken[3]), 1);
}

TEST(waiters_cap_refuses_and_never_wakes_the_refused)
{
    reset();
    ASSERT_EQ(waiters_start(2), 0);
    int64_t far = time_mono_ms() + 60000;
    ASSERT_EQ(waiters_add("ca_d", far, wake, (void *)4L), 0);
    ASSERT_EQ(waiters_add("ca_d", far, wake, (void *)4L), 0);
    ASSERT_EQ(waiters_add("ca_d", far, wake, (void *)5L), -1);
    waiters_notify("ca_d");
    ASSERT_EQ(atomic_load(&woken[4]), 2);
    ASSERT_EQ(atomic_load(&woken[5]), 0);
    ASSERT_EQ(waiters_add("ca_d", far, wake, (void *)4L), 0); /* room again */
    waiters_stop();
    ASSERT_EQ(atomic_load(&woken[4]), 3);
    ASSERT_EQ(waiters_add("ca_d", far, wake, (void *)5L), -1); /* stopped */
}

static void *
notifier(void *arg)
{
    for (int i = 0; i < 2000; i++)
        waiters_notify("ca_e");
    return NULL;
}

TEST(waiters_many_threads_every_waiter_woken_exactly_once)
{
    reset();
    ASSERT_EQ(waiters_start(5000), 0);
    pthread_t t;
    pthread_create(&t, NULL, notifier, NULL);
    int added = 0;
    for (int i = 0; i < 2000; i++)
        added += waiters_add("ca_e", time_mono_ms() + (i % 3 ? 5 : 60000), wake, (void *)6L) == 0;
    pthread_join(t, NULL);
    waiters_stop();
    ASSERT_EQ(added, 2000);
    ASSERT_EQ(atomic_load(&woken[6]), 2000);
}

TEST_MAIN()
