// c_relay: the reference relay attachbench measures beside attachd's (the `relay` phase).
//
//   c_relay [--spin MICROSECONDS] PORT TARGET
//
// Listens on 127.0.0.1:PORT (0: any free port), prints "PORT N" on stdout and, for each
// connection accepted, connects to 127.0.0.1:TARGET and relays both ways until both sides
// have ended (EOF each way) or either fails. One thread, one epoll set, level-triggered,
// non-blocking sockets with TCP_NODELAY; each direction moves its bytes with splice(2) through
// a pipe of its own (1 MiB, F_SETPIPE_SZ). A socket is watched for EPOLLIN while its direction
// can take more and for EPOLLOUT only while the other direction's bytes wait for it. An EOF is
// passed on with shutdown(SHUT_WR) once the pipe is empty.
//
// --spin: after passing on a message (< 64 KiB moved, the source then empty) the loop polls
// epoll_wait with timeout 0 for that long before blocking, as attachd does for 200 µs (its
// answer usually follows within tens of µs; staying awake saves a wake-up). attachbench runs
// it with 200, the same as attachd, so that the comparison is fair. Default 0.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MESSAGE (64 << 10) // moved at once, up to this is a message rather than bulk
#define TURNS 16           // pipe fills per event before others get a turn

struct pair;
struct end { struct pair *pair; int side; int fd; uint32_t watched; }; // side 0: IDE, 1: host
struct direction {           // bytes from end[from] to end[1 - from]
    int pipe[2];
    size_t capacity, queued; // pipe size; bytes in the pipe
    int eof, shut;           // source ended; destination shut for writing
};
struct pair {
    struct end end[2];
    struct direction dir[2];
    int connecting, closed;
    struct pair *next_closed;
};

static int epfd;
static struct pair *closed_pairs; // freed after the epoll batch that may still name them

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

// Watches `e` for exactly `events`; not at all when there is nothing to wait for (a socket
// left in the set with no events would still report EPOLLHUP at every turn).
static int watch(struct end *e, uint32_t events) {
    if (events == e->watched) return 0;
    struct epoll_event ev = {.events = events, .data.ptr = e};
    int op = e->watched == 0 ? EPOLL_CTL_ADD : events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    e->watched = events;
    return epoll_ctl(epfd, op, e->fd, &ev);
}

static void end_pair(struct pair *p) {
    if (p->closed) return;
    p->closed = 1;
    for (int i = 0; i < 2; i++) {
        close(p->end[i].fd); // also leaves the epoll set
        close(p->dir[i].pipe[0]);
        close(p->dir[i].pipe[1]);
    }
    p->next_closed = closed_pairs;
    closed_pairs = p;
}

// Moves what it can from end[d] to end[1 - d]: writes what the pipe holds, reads while it has
// room, until neither moves a byte (or TURNS rounds, so that others get a turn; the events
// are level-triggered, the rest comes at the next). Returns the bytes written, -1 on an error.
// *empty says whether the source was found empty (a short or EAGAIN read).
static long pump(struct pair *p, int d, int *empty) {
    struct direction *x = &p->dir[d];
    int src = p->end[d].fd, dst = p->end[1 - d].fd, full = 0;
    long moved = 0;
    *empty = 0;
    for (int turn = 0; turn < TURNS; turn++) {
        int progress = 0;
        if (x->queued > 0 && !full) {
            ssize_t w = splice(x->pipe[0], NULL, dst, NULL, x->queued, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (w < 0 && errno != EAGAIN) return -1;
            if (w < 0) full = 1; // destination full: EPOLLOUT will say when it has room
            else { x->queued -= w; moved += w; progress = 1; } // partial: the rest next round
        }
        if (!x->eof && !*empty && x->queued < x->capacity) {
            size_t room = x->capacity - x->queued;
            ssize_t r = splice(src, NULL, x->pipe[1], NULL, room, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (r < 0 && errno != EAGAIN) return -1;
            if (r < 0) *empty = 1;
            else if (r == 0) x->eof = 1;
            else {
                x->queued += r;
                progress = 1;
                // A short read means the socket is empty: no EAGAIN read per message (as attachd).
                if ((size_t)r < room) *empty = 1;
            }
        }
        if (!progress) break;
    }
    if (x->eof && x->queued == 0 && !x->shut) { // the source ended and all of it is passed on
        x->shut = 1;
        if (shutdown(dst, SHUT_WR) < 0 && errno != ENOTCONN) return -1;
    }
    return moved;
}

// What each socket waits for now; ends the pair when both directions are done.
static void update(struct pair *p) {
    if (p->dir[0].shut && p->dir[1].shut) { end_pair(p); return; }
    for (int i = 0; i < 2; i++) {
        uint32_t events = 0;
        if (p->connecting) events = i == 1 ? EPOLLOUT : 0;
        else {
            struct direction *out = &p->dir[i], *in = &p->dir[1 - i];
            if (!out->eof && out->queued < out->capacity) events |= EPOLLIN;
            if (in->queued > 0) events |= EPOLLOUT;
        }
        if (watch(&p->end[i], events) < 0) { end_pair(p); return; }
    }
}

// Runs the directions the event concerns: the one reading end `e` when it is readable, the
// one writing to it when it is writable (both once connected, or on an error). Returns 1 when
// a message was passed on whole and its source is empty (the loop then stays awake for --spin).
static int ready(struct end *e, uint32_t events) {
    struct pair *p = e->pair;
    if (p->closed) return 0;
    int both = events & EPOLLERR;
    if (p->connecting) {
        int error = 0;
        socklen_t size = sizeof error;
        if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &error, &size) < 0 || error) { end_pair(p); return 0; }
        p->connecting = 0;
        both = 1;
    }
    int spin = 0;
    for (int d = 0; d < 2; d++) {
        int reads = d == e->side && (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP));
        int writes = d != e->side && (events & EPOLLOUT);
        if (!both && !reads && !writes) continue;
        int empty;
        long moved = pump(p, d, &empty);
        if (moved < 0) { end_pair(p); return 0; }
        if (moved > 0 && moved < MESSAGE && empty && p->dir[d].queued == 0) spin = 1;
    }
    // An error on a socket ends the pair, once whatever could still be passed on was.
    if (events & EPOLLERR) { end_pair(p); return 0; }
    update(p);
    return spin;
}

static int tcp_socket(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int make_pipe(struct direction *x) {
    if (pipe2(x->pipe, O_NONBLOCK | O_CLOEXEC) < 0) return -1;
    fcntl(x->pipe[1], F_SETPIPE_SZ, 1 << 20); // may fail (pipe-max-size, quota): use the size it has
    int size = fcntl(x->pipe[1], F_GETPIPE_SZ);
    x->capacity = size > 0 ? (size_t)size : 65536;
    return 0;
}

// Accepts every pending connection and starts connecting each to the target.
static void accept_all(int listener, const struct sockaddr_in *target) {
    for (;;) {
        int ide = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
        if (ide < 0) return; // EAGAIN, or out of descriptors: the next event tries again
        setsockopt(ide, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct pair *p = calloc(1, sizeof *p);
        int host = tcp_socket();
        if (!p || host < 0) { close(ide); if (host >= 0) close(host); free(p); continue; }
        p->end[0] = (struct end){p, 0, ide, 0};
        p->end[1] = (struct end){p, 1, host, 0};
        if (make_pipe(&p->dir[0]) < 0) { close(ide); close(host); free(p); continue; }
        if (make_pipe(&p->dir[1]) < 0) {
            close(ide); close(host); close(p->dir[0].pipe[0]); close(p->dir[0].pipe[1]); free(p);
            continue;
        }
        int r = connect(host, (const struct sockaddr *)target, sizeof *target);
        if (r < 0 && errno != EINPROGRESS) { end_pair(p); continue; }
        p->connecting = r < 0;
        update(p);
    }
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN); // a peer gone: splice says EPIPE, the pair ends
    double spin_seconds = 0;
    int arg = 1;
    if (argc > 2 && strcmp(argv[1], "--spin") == 0) { spin_seconds = atof(argv[2]) / 1e6; arg = 3; }
    if (argc - arg != 2) {
        fprintf(stderr, "usage: c_relay [--spin MICROSECONDS] PORT TARGET\n");
        return 2;
    }
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in target = address;
    address.sin_port = htons(atoi(argv[arg]));
    target.sin_port = htons(atoi(argv[arg + 1]));
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t size = sizeof address;
    if (bind(listener, (struct sockaddr *)&address, sizeof address) < 0 || listen(listener, 128) < 0
        || getsockname(listener, (struct sockaddr *)&address, &size) < 0) {
        perror("c_relay: listen");
        return 1;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}; // NULL: the listener
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &ev) < 0) {
        perror("c_relay: epoll");
        return 1;
    }
    printf("PORT %d\n", ntohs(address.sin_port));
    fflush(stdout);

    double spin_until = 0;
    for (;;) {
        struct epoll_event events[64];
        int timeout = spin_until > 0 && now() < spin_until ? 0 : -1; // awake while spinning
        int n = epoll_wait(epfd, events, 64, timeout);
        if (n < 0 && errno != EINTR) { perror("c_relay: epoll_wait"); return 1; }
        int spin = 0;
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL) accept_all(listener, &target);
            else spin |= ready(events[i].data.ptr, events[i].events);
        }
        while (closed_pairs) {
            struct pair *p = closed_pairs;
            closed_pairs = p->next_closed;
            free(p);
        }
        if (spin && spin_seconds > 0) spin_until = now() + spin_seconds;
    }
}
