/* tsline: copy stdin to stdout, each line prefixed with the wall-clock time it was read, as
 * "<epoch seconds>.<microseconds> ". The gossip bench pipes Serf's log through it, because
 * Serf stamps its own lines to the second only; peerd stamps its lines to the millisecond.
 * Build: cc -O2 -o tsline tsline.c */
#include <stdio.h>
#include <string.h>
#include <time.h>

int main(void)
{
    char line[8192];
    int at_start = 1;
    while (fgets(line, sizeof line, stdin)) {
        if (at_start) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            printf("%lld.%06ld ", (long long)ts.tv_sec, ts.tv_nsec / 1000);
        }
        fputs(line, stdout);
        at_start = strchr(line, '\n') != NULL; /* a line longer than the buffer: stamp once */
        if (at_start)
            fflush(stdout);
    }
    return 0;
}
