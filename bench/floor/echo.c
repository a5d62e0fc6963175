// echo: a loopback TCP echo server for bench/relay_floor.sh: prints its port, then echoes every
// connection (a thread each, blocking reads, TCP_NODELAY).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <pthread.h>
static void *serve(void *a) { int c = (int)(long)a; char b[4096]; ssize_t n; while ((n = read(c, b, sizeof b)) > 0) write(c, b, n); close(c); return 0; }
int main(void) {
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bind(l, (void *)&a, sizeof a); listen(l, 16);
    socklen_t s = sizeof a; getsockname(l, (void *)&a, &s);
    printf("%d\n", ntohs(a.sin_port)); fflush(stdout);
    for (;;) { int c = accept(l, 0, 0); setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); pthread_t t; pthread_create(&t, 0, serve, (void *)(long)c); }
}
