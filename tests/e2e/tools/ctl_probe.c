/* Raw control-socket client for e2e tests: sends exactly the bytes it is told and reports what
 * the daemon does. Usage: ctl_probe SOCKET STEP...
 *   send:HEX      write bytes            file:PATH  write a file's bytes
 *   recv          read one reply frame and print "reply id=.. ok=.. code=.. error=.."
 *   closed        expect the daemon to close the connection within 3 s
 *   sleep:MS      pause
 * Exit 0 when every step did what it said, 3 if no reply came, 4 if the connection stayed open. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl_wire.h"
#include "pd_buf.h"

static int fd = -1;

static int read_full(uint8_t *p, size_t n, int timeout_ms)
{
    while (n) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, timeout_ms) <= 0)
            return -1;
        ssize_t r = recv(fd, p, n, 0);
        if (r <= 0)
            return r == 0 ? 0 : -1;
        p += r;
        n -= (size_t)r;
    }
    return 1;
}

static int step_recv(void)
{
    uint8_t hdr[4];
    if (read_full(hdr, 4, 3000) != 1)
        return 3;
    uint32_t n = pd_get_u32(hdr);
    if (n == 0 || n > PD_CTL_FRAME_MAX)
        return 3;
    uint8_t *body = malloc(n);
    if (!body || read_full(body, n, 3000) != 1) {
        free(body);
        return 3;
    }
    msgpack_unpacked u;
    pd_ctl_reply_t rep;
    int rc = pd_ctl_decode_reply(body, n, &u, &rep);
    free(body);
    if (rc)
        return 3;
    printf("reply id=%llu ok=%d code=%d error=%s\n", (unsigned long long)rep.id, rep.ok, rep.code,
           rep.ok ? "" : rep.error);
    msgpack_unpacked_destroy(&u);
    return 0;
}

static int step_closed(void)
{
    uint8_t b[4096];
    for (int i = 0; i < 30; i++) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 100) > 0) {
            ssize_t r = recv(fd, b, sizeof b, 0);
            if (r <= 0)
                return 0;
        }
    }
    return 4;
}

static void send_bytes(const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* the daemon may close on us mid-way: that is what some steps test */
        p += w;
        n -= (size_t)w;
    }
}

static int step_send_hex(const char *hex)
{
    size_t n = strlen(hex) / 2;
    uint8_t *b = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        b[i] = (uint8_t)v;
    }
    send_bytes(b, n);
    free(b);
    return 0;
}

static int step_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 2;
    uint8_t b[65536];
    size_t n;
    while ((n = fread(b, 1, sizeof b, f)) > 0)
        send_bytes(b, n);
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: ctl_probe SOCKET STEP...\n");
        return 2;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", argv[1]);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("connect");
        return 2;
    }
    int rc = 0;
    for (int i = 2; i < argc && rc == 0; i++) {
        const char *s = argv[i];
        if (strncmp(s, "send:", 5) == 0)
            rc = step_send_hex(s + 5);
        else if (strncmp(s, "file:", 5) == 0)
            rc = step_file(s + 5);
        else if (strcmp(s, "recv") == 0)
            rc = step_recv();
        else if (strcmp(s, "closed") == 0)
            rc = step_closed();
        else if (strncmp(s, "sleep:", 6) == 0)
            usleep((useconds_t)atoi(s + 6) * 1000);
        else
            rc = 2;
        if (rc)
            fprintf(stderr, "ctl_probe: step '%s' failed (%d)\n", s, rc);
    }
    close(fd);
    return rc;
}
