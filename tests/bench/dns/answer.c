/* CPU cost of peerd's pure answer path (pd_dns_answer), without any IO: the benchmark's data
 * (1,000 services of 3 tasks each, no VIPs) and query mix (80% svcN.svc A, 15% tasks.svcN.svc A,
 * 5% nosuchN.svc A; a third with EDNS, as dig sends it, though dnsperf by default does not), answered
 * in a tight loop. Prints nanoseconds per query: the part of "DNS work per query" that is ours
 * rather than the event loop's or the kernel's. Run it under `perf record` to see where it goes.
 *
 *   answer [QUERIES]     default 5,000,000 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns_answer.h"

enum { NSVC = 1000, MIX = 4096 };

static size_t make_query(uint8_t *buf, size_t cap, uint16_t id, const char *name, int edns)
{
    uint8_t w[PD_DNS_NAME_MAX];
    size_t n = 0;
    for (const char *s = name; *s;) {
        const char *dot = strchr(s, '.');
        size_t l = dot ? (size_t)(dot - s) : strlen(s);
        w[n++] = (uint8_t)l;
        memcpy(w + n, s, l);
        n += l;
        s += l + (dot ? 1 : 0);
    }
    w[n] = 0;
    pd_dns_builder_t b;
    size_t len = 0;
    pd_dns_build_init(&b, buf, cap);
    pd_dns_build_question(&b, w, PD_DNS_T_A, PD_DNS_C_IN);
    if (edns)
        pd_dns_build_opt(&b, 1232, 0, 0, 0);
    pd_dns_build_finish(&b, id, PD_DNS_F_RD, &len);
    return len;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    long total = argc > 1 ? atol(argv[1]) : 5000000;
    pd_dns_table_t *t;
    if (total <= 0 || pd_dns_table_new(NULL, &t) != 0)
        return 2;
    char name[64], id[16];
    for (unsigned i = 1; i <= NSVC; i++) {
        snprintf(name, sizeof name, "svc%u", i);
        for (unsigned k = 1; k <= 3; k++) {
            pd_dns_addrs_t a = {.has_v4 = 1, .v4 = {10, (uint8_t)k, (uint8_t)(i >> 8), (uint8_t)i}};
            snprintf(id, sizeof id, "t%u", k);
            if (pd_dns_table_task_put(t, name, id, &a, 1, 0) != 0)
                return 2;
        }
    }
    static uint8_t q[MIX][128];
    static size_t qlen[MIX];
    pd_rng_t rng;
    pd_rng_seed(&rng, 20240601);
    for (unsigned i = 0; i < MIX; i++) {
        unsigned r = (unsigned)pd_rng_below(&rng, 100), k = 1 + (unsigned)pd_rng_below(&rng, NSVC);
        snprintf(name, sizeof name, r < 80 ? "svc%u.svc" : r < 95 ? "tasks.svc%u.svc" : "nosuch%u.svc", k);
        qlen[i] = make_query(q[i], sizeof q[i], (uint16_t)i, name, i % 3 == 0);
    }
    pd_dns_config_t cfg;
    pd_dns_config_default(&cfg);
    static uint8_t out[PD_DNS_UDP_MAX];
    size_t len, bytes = 0;
    long answered = 0;
    double t0 = now_s();
    for (long i = 0; i < total; i++) {
        unsigned j = (unsigned)i & (MIX - 1);
        answered += pd_dns_answer(t, q[j], qlen[j], PD_DNS_UDP, &rng, &cfg, out, sizeof out, &len) ==
                    PD_DNS_ANSWERED;
        bytes += len;
    }
    double el = now_s() - t0;
    printf("answer: %ld queries, %ld answered, %.1f ns/query, %.0f bytes/reply\n", total, answered,
           el * 1e9 / (double)total, (double)bytes / (double)total);
    pd_dns_table_free(t);
    return answered == total ? 0 : 1;
}
