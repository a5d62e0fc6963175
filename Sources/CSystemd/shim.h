#ifndef ATTACHD_CSYSTEMD_SHIM_H
#define ATTACHD_CSYSTEMD_SHIM_H
// The parts of libsystemd attachd uses: sd_listen_fds_with_names, sd_is_socket_unix,
// sd_notify, sd_pid_notify_with_fds, sd_watchdog_enabled.
#include <systemd/sd-daemon.h>
#endif
