/* Seeds from the environment and the "failed with seed N" report.
 *
 * The current seed lives in a thread-local. The report is printed by pd_sim_fail (PD_SIM_ASSERT),
 * by pd_sim_cmocka_teardown when a cmocka assertion ended a test mid-seed, and from a SIGABRT
 * handler and the sanitizers' death callback when a PD_ASSERT or an ASan/UBSan report kills the
 * process. The signal path formats with write(2) only (async-signal-safe). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim_internal.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PD_SIM_HAVE_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(PD_SIM_HAVE_SANITIZER)
#define PD_SIM_HAVE_SANITIZER 1
#endif
#ifdef PD_SIM_HAVE_SANITIZER
#include <sanitizer/common_interface_defs.h>
#endif

static _Thread_local bool seed_active;
static _Thread_local uint64_t seed_current;
static bool handlers_installed;
static pd_sim_fail_fn fail_handler;

/* ---- environment ------------------------------------------------------------------------------ */

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    if (!s || !*s)
        return false;
    unsigned long long v = strtoull(s, &end, 0);
    if (*end != '\0')
        return false;
    *out = v;
    return true;
}

uint64_t pd_sim_seed_from_env(uint64_t default_seed)
{
    static bool random_picked;
    static uint64_t random_seed;
    const char *s = getenv("PD_SIM_SEED");
    uint64_t v;
    if (!s)
        return default_seed;
    if (strcmp(s, "random") == 0) {
        if (!random_picked) {
            random_seed = pd_rng_os_seed();
            random_picked = true;
            fprintf(stderr, "sim: PD_SIM_SEED=random: base seed %llu\n",
                    (unsigned long long)random_seed);
        }
        return random_seed;
    }
    if (parse_u64(s, &v))
        return v;
    fprintf(stderr, "sim: ignoring bad PD_SIM_SEED=%s\n", s);
    return default_seed;
}

uint64_t pd_sim_seed_count_from_env(uint64_t default_count)
{
    const char *s = getenv("PD_SIM_SEEDS");
    uint64_t v;
    if (s && parse_u64(s, &v) && v > 0)
        return v;
    if (s)
        fprintf(stderr, "sim: ignoring bad PD_SIM_SEEDS=%s\n", s);
    const char *one = getenv("PD_SIM_SEED");
    return one && strcmp(one, "random") != 0 ? 1 : default_count;
}

pd_sim_seeds_t pd_sim_seeds(uint64_t default_seed, uint64_t default_count)
{
    return (pd_sim_seeds_t){.base = pd_sim_seed_from_env(default_seed),
                            .count = pd_sim_seed_count_from_env(default_count)};
}

bool pd_sim_seeds_next(pd_sim_seeds_t *it)
{
    if (it->i >= it->count) {
        pd_sim_seed_leave();
        return false;
    }
    it->seed = it->base + it->i++;
    pd_sim_seed_enter(it->seed);
    return true;
}

/* ---- the report ------------------------------------------------------------------------------- */

/* "sim: failed with seed N (rerun with PD_SIM_SEED=N)\n" with write(2): safe in a signal handler. */
static void write_report(uint64_t seed)
{
    char num[24], line[128];
    size_t n = 0, k = 0;
    do {
        num[n++] = (char)('0' + seed % 10);
        seed /= 10;
    } while (seed);
    const char *parts[] = {"sim: failed with seed ", NULL, " (rerun with PD_SIM_SEED=", NULL, ")\n"};
    for (size_t p = 0; p < 5; p++) {
        if (parts[p]) {
            for (const char *c = parts[p]; *c; c++)
                line[k++] = *c;
        } else {
            for (size_t j = n; j > 0; j--)
                line[k++] = num[j - 1];
        }
    }
    ssize_t w = write(STDERR_FILENO, line, k);
    (void)w;
}

bool pd_sim_report_failure(void)
{
    if (!seed_active)
        return false;
    write_report(seed_current);
    return true;
}

static void on_fatal_signal(int sig)
{
    pd_sim_report_failure();
    signal(sig, SIG_DFL);
    raise(sig);
}

#ifdef PD_SIM_HAVE_SANITIZER
static void on_sanitizer_death(void) { pd_sim_report_failure(); }
#endif

static void install_handlers(void)
{
    if (handlers_installed)
        return;
    handlers_installed = true;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGABRT, &sa, NULL); /* PD_ASSERT; SEGV and friends stay with the sanitizers */
#ifdef PD_SIM_HAVE_SANITIZER
    __sanitizer_set_death_callback(on_sanitizer_death);
#endif
}

void pd_sim_seed_enter(uint64_t seed)
{
    install_handlers();
    seed_current = seed;
    seed_active = true;
}

void pd_sim_seed_leave(void) { seed_active = false; }

int pd_sim_cmocka_teardown(void **state)
{
    (void)state;
    pd_sim_report_failure();
    pd_sim_seed_leave();
    return 0;
}

void pd_sim_set_fail_handler(pd_sim_fail_fn fn) { fail_handler = fn; }

void pd_sim_fail(const pd_sim_t *sim, const char *file, int line, const char *expr)
{
    fprintf(stderr, "%s:%d: sim check failed at t=%llu ms: %s\n", file, line,
            (unsigned long long)sim->clock.now, expr);
    fflush(stderr);
    write_report(sim->opts.seed);
    pd_sim_seed_leave(); /* reported: the teardown and abort paths stay quiet */
    if (fail_handler) {
        fail_handler(file, line);
        return;
    }
    abort();
}
