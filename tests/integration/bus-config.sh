# bus_config for the tests and the demo (sourced): one private dbus-daemon configuration.

# bus_config SOCKET [POLICY]: a dbus-daemon configuration listening on SOCKET. With POLICY, a
# bus like the system bus (the defaults of Debian's system.conf written out: method calls and
# name ownership denied unless a policy allows them) that includes POLICY; without, an open bus
# on which everyone may do everything.
bus_config() {
    cat <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path=$1</listen>
  <auth>EXTERNAL</auth>
EOF
    if [ -n "${2:-}" ]; then
        cat <<EOF
  <type>system</type>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <include>$2</include>
</busconfig>
EOF
    else
        cat <<EOF
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
EOF
    fi
}
