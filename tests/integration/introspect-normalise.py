#!/usr/bin/env python3
"""Prints one interface of a D-Bus introspection XML file in a canonical form (one line per
member, sorted), so that the repository's XML and a running daemon's can be compared."""
import sys
import xml.etree.ElementTree as ET


def member_lines(iface):
    for el in iface:
        kind = el.tag
        if kind not in ("method", "property", "signal"):
            continue
        name = el.get("name")
        if kind == "property":
            ann = [a.get("value") for a in el.findall("annotation")
                   if a.get("name") == "org.freedesktop.DBus.Property.EmitsChangedSignal"]
            yield f"property {name} {el.get('type')} {el.get('access')} emits={ann[0] if ann else 'true'}"
            continue
        args = []
        for a in el.findall("arg"):
            direction = a.get("direction") or ("out" if kind == "signal" else "in")
            args.append(f"{direction}:{a.get('type')}:{a.get('name') or ''}")
        yield f"{kind} {name}({', '.join(args)})"


def main():
    path, wanted = sys.argv[1], sys.argv[2]
    root = ET.parse(path).getroot()
    found = [i for i in root.iter("interface") if i.get("name") == wanted]
    if not found:
        print(f"no interface {wanted}")
        return
    for line in sorted(member_lines(found[0])):
        print(line)


main()
