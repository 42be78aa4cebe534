/* Fuzz the DNS wire parser and the pure answerer: arbitrary bytes as a query are parsed (and, when
 * they parse, rebuilt and parsed again to the same question), then answered against a small fixed
 * table over UDP and TCP; every reply must parse back completely, echo the id and question, and
 * stay within the transport's size limit. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_answer.h"
#include "dns_table.h"
#include "dns_wire.h"

#define CHECK(c)                                                                   \
    do {                                                                           \
        if (!(c)) {                                                                \
            fprintf(stderr, "fuzz_dns_wire: %s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                               \
        }                                                                          \
    } while (0)

static pd_dns_table_t *table;

static void table_init(void)
{
    pd_dns_addrs_t vip = {.has_v4 = 1, .has_v6 = 1, .v4 = {10, 0, 0, 2}, .v6 = {0xfd, [15] = 2}};
    pd_dns_port_t ports[] = {{"http", PD_DNS_PROTO_TCP, 80}, {"dns", PD_DNS_PROTO_UDP, 53}};
    CHECK(pd_dns_table_new(NULL, &table) == 0);
    CHECK(pd_dns_table_service_put(table, "web", &vip, ports, 2) == 0);
    char id[16];
    for (int i = 1; i <= 40; i++) {
        pd_dns_addrs_t a = {.has_v4 = 1, .has_v6 = i % 2, .v4 = {10, 0, 1, (uint8_t)i},
                            .v6 = {0xfd, [14] = 1, [15] = (uint8_t)i}};
        snprintf(id, sizeof id, "t%d", i);
        CHECK(pd_dns_table_task_put(table, "web", id, &a, i % 7 != 0, 0) == 0);
    }
    pd_dns_port_t pg = {"pg", PD_DNS_PROTO_TCP, 5432};
    CHECK(pd_dns_table_service_put(table, "db", NULL, &pg, 1) == 0);
    pd_dns_addrs_t d = {.has_v4 = 1, .v4 = {10, 0, 2, 1}};
    CHECK(pd_dns_table_task_put(table, "db", "d1", &d, 1, 15432) == 0);
    pd_dns_addrs_t h = {.has_v4 = 1, .v4 = {192, 168, 1, 10}};
    CHECK(pd_dns_table_node_put(table, "host1", &h) == 0);
}

/* A parsed query rebuilt with the builder parses to the same question. */
static void roundtrip(const pd_dns_query_t *q)
{
    CHECK(q->qname.len >= 1 && q->qname.len <= PD_DNS_NAME_MAX);
    CHECK(q->qname.nlabels <= PD_DNS_LABELS_MAX);
    CHECK(pd_dns_name_check(q->qname.wire, q->qname.len) == (int)q->qname.len);
    CHECK(q->udp_size >= PD_DNS_UDP_MIN && q->udp_size <= PD_DNS_UDP_MAX);
    uint8_t buf[PD_DNS_UDP_MIN];
    pd_dns_builder_t b;
    size_t len;
    pd_dns_query_t back;
    pd_dns_build_init(&b, buf, sizeof buf);
    CHECK(pd_dns_build_question(&b, q->qname.wire, q->qtype, q->qclass) == 0);
    if (q->has_edns)
        CHECK(pd_dns_build_opt(&b, q->udp_size, 0, q->edns_version, q->edns_flags) == 0);
    CHECK(pd_dns_build_finish(&b, q->hdr.id, q->hdr.flags, &len) == 0);
    CHECK(pd_dns_query_parse(buf, len, &back) == 0);
    CHECK(back.qname.len == q->qname.len &&
          memcmp(back.qname.wire, q->qname.wire, q->qname.len) == 0);
    CHECK(back.qtype == q->qtype && back.qclass == q->qclass && back.has_edns == q->has_edns);
    CHECK(back.udp_size == q->udp_size);
}

static void answer(const uint8_t *data, size_t size, pd_dns_transport_t tr, const pd_dns_query_t *q,
                   int parsed)
{
    static uint8_t out[PD_DNS_MSG_MAX];
    pd_dns_config_t cfg;
    pd_rng_t rng;
    size_t len = 12345;
    pd_dns_config_default(&cfg);
    pd_rng_seed(&rng, size);
    pd_dns_verdict_t v = pd_dns_answer(table, data, size, tr, &rng, &cfg, out, sizeof out, &len);
    CHECK(v == PD_DNS_ANSWERED || v == PD_DNS_FORWARD || v == PD_DNS_DROP);
    if (v != PD_DNS_ANSWERED) {
        CHECK(len == 0);
        CHECK(v == PD_DNS_DROP || parsed); /* only a well-formed query is forwarded */
        return;
    }
    CHECK(pd_dns_msg_check(out, len) == 0);
    CHECK(len <= (tr == PD_DNS_TCP ? (size_t)PD_DNS_MSG_MAX : (parsed ? q->udp_size : 512u)));
    pd_dns_hdr_t h;
    CHECK(pd_dns_hdr_parse(out, len, &h) == 0);
    CHECK(h.id == pd_get_u16(data) && (h.flags & PD_DNS_F_QR));
    if (h.qdcount == 1) {
        CHECK(parsed);
        CHECK(memcmp(out + PD_DNS_HDR_LEN, q->qname.wire, q->qname.len) == 0); /* case kept */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!table)
        table_init();
    pd_dns_query_t q;
    int parsed = pd_dns_query_parse(data, size, &q) == 0;
    if (parsed)
        roundtrip(&q);
    (void)pd_dns_msg_check(data, size);
    answer(data, size, PD_DNS_UDP, &q, parsed);
    answer(data, size, PD_DNS_TCP, &q, parsed);
    return 0;
}
