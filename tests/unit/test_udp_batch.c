/* udp_batch on real loopback sockets: bursts deeper than one batch come back whole, each reply to
 * its own sender with its own bytes; an oversized datagram is reported cut; a taken address fails
 * to bind (no SO_REUSEADDR); as root the receive buffer is the full size asked for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pd_alloc.h"
#include "udp_batch.h"

enum { CLIENTS = 4, PER_CLIENT = 50 }; /* 200 datagrams: several batches */

static pd_udp_batch_t *open_server(struct sockaddr_in *addr)
{
    pd_udp_batch_t *b = pd_calloc(1, sizeof *b);
    assert_non_null(b);
    *addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(pd_udp_batch_open(b, (struct sockaddr *)addr), 0);
    socklen_t l = sizeof *addr;
    assert_int_equal(getsockname(b->fd, (struct sockaddr *)addr, &l), 0);
    return b;
}

static int client(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int buf = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    assert_true(fd >= 0);
    return fd;
}

static void wait_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 2000), 1);
}

static void sent_count(void *ctx, const uint8_t *reply)
{
    (void)reply;
    (*(unsigned *)ctx)++;
}

/* Each reply is "R" + the query's bytes; every client gets exactly its own, in some order. */
static void test_burst(void **state)
{
    (void)state;
    struct sockaddr_in sa;
    pd_udp_batch_t *b = open_server(&sa);
    /* as root the full size (the kernel reports double); otherwise capped by rmem_max */
    if (b->forced)
        assert_true(b->rcvbuf >= PD_UDP_RCVBUF);
    assert_true(b->rcvbuf > 0 && b->sndbuf > 0);
    int c[CLIENTS];
    for (int k = 0; k < CLIENTS; k++)
        c[k] = client();
    for (int i = 0; i < PER_CLIENT; i++) {
        for (int k = 0; k < CLIENTS; k++) {
            char msg[32];
            int n = snprintf(msg, sizeof msg, "c%d-q%d", k, i);
            assert_int_equal(sendto(c[k], msg, (size_t)n, 0, (struct sockaddr *)&sa, sizeof sa), n);
        }
    }
    unsigned got = 0, sent = 0, batches = 0;
    while (got < CLIENTS * PER_CLIENT) {
        wait_readable(b->fd);
        int n = pd_udp_batch_recv(b);
        assert_true(n > 0 && n <= PD_UDP_BATCH);
        batches++;
        for (int i = 0; i < n; i++) {
            size_t len = pd_udp_batch_len(b, (unsigned)i);
            assert_false(pd_udp_batch_cut(b, (unsigned)i));
            b->tx[i][0] = 'R';
            memcpy(b->tx[i] + 1, pd_udp_batch_data(b, (unsigned)i), len);
            pd_udp_batch_reply(b, (unsigned)i, len + 1);
        }
        assert_int_equal(pd_udp_batch_flush(b, sent_count, &sent), 0);
        assert_false(pd_udp_batch_pending(b));
        got += (unsigned)n;
    }
    assert_int_equal(sent, CLIENTS * PER_CLIENT);
    assert_true(batches < CLIENTS * PER_CLIENT); /* they did come in batches */
    assert_int_equal(pd_udp_batch_recv(b), 0);   /* nothing left: 0, not an error */
    for (int k = 0; k < CLIENTS; k++) {
        uint8_t seen[PER_CLIENT] = {0};
        for (int i = 0; i < PER_CLIENT; i++) {
            char in[64];
            wait_readable(c[k]);
            ssize_t n = recv(c[k], in, sizeof in - 1, 0);
            assert_true(n > 1 && in[0] == 'R');
            in[n] = 0;
            int ck = -1, qi = -1;
            assert_int_equal(sscanf(in + 1, "c%d-q%d", &ck, &qi), 2);
            assert_int_equal(ck, k);
            assert_true(qi >= 0 && qi < PER_CLIENT && !seen[qi]);
            seen[qi] = 1;
        }
        close(c[k]);
    }
    pd_udp_batch_close(b);
    pd_free(b);
}

static void test_cut_and_sendto(void **state)
{
    (void)state;
    struct sockaddr_in sa;
    pd_udp_batch_t *b = open_server(&sa);
    int c = client();
    static uint8_t big[PD_UDP_DGRAM_MAX + 100];
    memset(big, 'x', sizeof big);
    assert_int_equal(sendto(c, big, sizeof big, 0, (struct sockaddr *)&sa, sizeof sa), (ssize_t)sizeof big);
    assert_int_equal(sendto(c, "ok", 2, 0, (struct sockaddr *)&sa, sizeof sa), 2);
    wait_readable(b->fd);
    unsigned n = 0;
    while (n < 2) {
        int r = pd_udp_batch_recv(b);
        assert_true(r >= 0);
        for (int i = 0; i < r; i++, n++) {
            assert_int_equal(pd_udp_batch_cut(b, (unsigned)i), n == 0);
            assert_int_equal(pd_udp_batch_len(b, (unsigned)i), n == 0 ? PD_UDP_DGRAM_MAX : 2);
        }
    }
    /* a reply outside the batch, to the last sender */
    assert_int_equal(pd_udp_batch_sendto(b, pd_udp_batch_peer(b, 0), (const uint8_t *)"late", 4), 0);
    char in[8];
    wait_readable(c);
    assert_int_equal(recv(c, in, sizeof in, 0), 4);
    assert_memory_equal(in, "late", 4);
    assert_int_equal(pd_udp_batch_take_error(b), 0);
    close(c);
    pd_udp_batch_close(b);
    pd_free(b);
}

static void test_taken_address(void **state)
{
    (void)state;
    struct sockaddr_in sa;
    pd_udp_batch_t *b = open_server(&sa);
    pd_udp_batch_t *b2 = pd_calloc(1, sizeof *b2);
    assert_non_null(b2);
    b2->fd = -1;
    assert_int_equal(pd_udp_batch_open(b2, (struct sockaddr *)&sa), -EADDRINUSE);
    assert_int_equal(b2->fd, -1);
    pd_udp_batch_close(b2); /* harmless on a batch that never opened */
    pd_free(b2);
    pd_udp_batch_close(b);
    assert_int_equal(b->fd, -1);
    pd_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst),
        cmocka_unit_test(test_cut_and_sendto),
        cmocka_unit_test(test_taken_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
