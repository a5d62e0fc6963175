#ifndef ATTACHD_CSYSTEMD_SHIM_H
#define ATTACHD_CSYSTEMD_SHIM_H
// The parts of libsystemd attachd uses: sd_listen_fds_with_names, sd_is_socket_unix,
// sd_notify, sd_pid_notify_with_fds, sd_watchdog_enabled (sd-daemon.h) and sd_journal_sendv
// (sd-journal.h).
#include <sys/uio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#endif
