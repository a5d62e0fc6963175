#ifndef ATTACHD_CLINUX_SHIM_H
#define ATTACHD_CLINUX_SHIM_H
// Linux headers that Swift's Glibc module leaves out: epoll(7), eventfd(2) and
// pthread_setname_np(3), for the relay loop. Header only: everything here is in glibc itself, so nothing is linked.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <pthread.h>
// <pthread.h> declares it only under _GNU_SOURCE; glibc has had it since 2.12.
int pthread_setname_np(pthread_t thread, const char *name);
#endif
