"""Whether a host name is this machine's own: the local server binds only there, and the dashboard accepts a
plain-http sign-in service only there."""

from __future__ import annotations

import ipaddress


def is_loopback_host(host: str | None) -> bool:
    """"localhost" or a loopback address (127.0.0.0/8, ::1); not a name that merely resolves to one."""
    if host is None:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
