#!/usr/bin/python3
"""Calls io.stdfu1.Manager.UpdateFile(device, fd, options) with an fd, which busctl cannot
pass. Prints "ok" or "ERROR-NAME: message" and exits 0 / 1.

usage: update-file.py BUS-ADDRESS DEVICE FD [OPTIONS-AS-GVARIANT-TEXT]
e.g.   update-file.py unix:path=/tmp/bus 1-1.2 3 "{'version': <'1.2'>}" 3<fw.bin
"""
import sys

from gi.repository import Gio, GLib


def main():
    address, device, fd = sys.argv[1], sys.argv[2], int(sys.argv[3])
    options = GLib.Variant.parse(GLib.VariantType("a{sv}"), sys.argv[4] if len(sys.argv) > 4 else "@a{sv} {}")
    bus = Gio.DBusConnection.new_for_address_sync(
        address,
        Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)
    fds = Gio.UnixFDList.new()
    index = fds.append(fd)
    try:
        bus.call_with_unix_fd_list_sync(
            "io.stdfu1", "/io/stdfu1", "io.stdfu1.Manager", "UpdateFile",
            GLib.Variant.new_tuple(GLib.Variant("s", device), GLib.Variant("h", index), options),
            None,
            Gio.DBusCallFlags.NONE, 10000, fds, None)
    except GLib.Error as e:
        name = Gio.DBusError.get_remote_error(e) or "?"
        message = e.message.split(name + ": ", 1)[-1]
        print(f"{name}: {message}")
        return 1
    print("ok")
    return 0


sys.exit(main())
