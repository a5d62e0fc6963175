// pingpong N PORT...: N 1-byte round trips on a connection to each 127.0.0.1:PORT (after 500
// unmeasured), taken in blocks of 100 in turn so that a noisy neighbour slows every path alike;
// prints p50, p90 and p99 in microseconds per port. For bench/relay_floor.sh.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }
static int cmp(const void *a, const void *b) { double x = *(double *)a, y = *(double *)b; return x < y ? -1 : x > y; }
static int conn(int port) { int c = socket(AF_INET, SOCK_STREAM, 0), one = 1; struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(port)}; if (connect(c, (void *)&a, sizeof a)) { perror("connect"); exit(1); } setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); return c; }
int main(int argc, char **argv) {
    int n = atoi(argv[1]), k = argc - 2, fds[8];
    for (int i = 0; i < k; i++) fds[i] = conn(atoi(argv[i + 2]));
    double *t[8]; for (int i = 0; i < k; i++) t[i] = malloc(n * sizeof(double));
    char b = 'x';
    for (int i = 0; i < k; i++) for (int j = 0; j < 500; j++) { write(fds[i], &b, 1); read(fds[i], &b, 1); }
    for (int blk = 0; blk < n / 100; blk++)
        for (int i = 0; i < k; i++) for (int j = 0; j < 100; j++) { double s = now(); write(fds[i], &b, 1); read(fds[i], &b, 1); t[i][blk * 100 + j] = now() - s; }
    for (int i = 0; i < k; i++) { qsort(t[i], n, sizeof(double), cmp); printf("%s p50 %.1f p90 %.1f p99 %.1f\n", argv[i + 2], t[i][n / 2], t[i][n * 9 / 10], t[i][n * 99 / 100]); }
}
