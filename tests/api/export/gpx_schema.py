"""The rules of the GPX 1.1 schema (http://www.topografix.com/GPX/1/1/gpx.xsd) that a track file
can break, checked with the standard library (no XSD validator is a dependency of the tests).

Each complex type below is the schema's `xsd:sequence`, in order, with how often each element may
occur; attributes and simple types as the schema declares them (`latitudeType` [-90, 90],
`longitudeType` [-180, 180), `xsd:dateTime`, `xsd:decimal`, `version` fixed to "1.1", `creator`
required).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

NS = "{http://www.topografix.com/GPX/1/1}"
MANY = 10**9

# type → [(element, min, max, its type or None for a simple one)]
SEQUENCES: dict[str, list[tuple[str, int, int, str | None]]] = {
    "gpxType": [
        ("metadata", 0, 1, "metadataType"),
        ("wpt", 0, MANY, "wptType"),
        ("rte", 0, MANY, None),
        ("trk", 0, MANY, "trkType"),
        ("extensions", 0, 1, None),
    ],
    "metadataType": [
        ("name", 0, 1, None),
        ("desc", 0, 1, None),
        ("author", 0, 1, None),
        ("copyright", 0, 1, None),
        ("link", 0, MANY, None),
        ("time", 0, 1, None),
        ("keywords", 0, 1, None),
        ("bounds", 0, 1, None),
        ("extensions", 0, 1, None),
    ],
    "trkType": [
        ("name", 0, 1, None),
        ("cmt", 0, 1, None),
        ("desc", 0, 1, None),
        ("src", 0, 1, None),
        ("link", 0, MANY, None),
        ("number", 0, 1, None),
        ("type", 0, 1, None),
        ("extensions", 0, 1, None),
        ("trkseg", 0, MANY, "trksegType"),
    ],
    "trksegType": [("trkpt", 0, MANY, "wptType"), ("extensions", 0, 1, None)],
    "wptType": [
        (name, 0, 1, None)
        for name in (
            "ele",
            "time",
            "magvar",
            "geoidheight",
            "name",
            "cmt",
            "desc",
            "src",
        )
    ]
    + [("link", 0, MANY, None)]
    + [
        (name, 0, 1, None)
        for name in (
            "sym",
            "type",
            "fix",
            "sat",
            "hdop",
            "vdop",
            "pdop",
            "ageofdgpsdata",
            "dgpsid",
            "extensions",
        )
    ],
}
DATE_TIME = re.compile(r"-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$")
DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)$")


def _check_sequence(element: ET.Element, type_name: str, where: str, problems: list[str]) -> None:
    children = list(element)
    i = 0
    for name, low, high, child_type in SEQUENCES[type_name]:
        count = 0
        while i < len(children) and children[i].tag == NS + name:
            child = children[i]
            _check_element(child, name, child_type, f"{where}/{name}", problems)
            count += 1
            i += 1
        if not low <= count <= high:
            problems.append(f"{where}: {count} <{name}>, the schema allows {low}..{high}")
    for child in children[i:]:
        problems.append(f"{where}: <{child.tag}> is not allowed here")


def _check_element(
    element: ET.Element, name: str, type_name: str | None, where: str, problems: list[str]
) -> None:
    if name == "time" and not DATE_TIME.match(element.text or ""):
        problems.append(f"{where}: {element.text!r} is not an xsd:dateTime")
    if type_name == "wptType":
        lat, lon = element.get("lat", ""), element.get("lon", "")
        if not DECIMAL.match(lat) or not -90 <= float(lat) <= 90:
            problems.append(f"{where}: lat {lat!r} is not a latitudeType")
        if not DECIMAL.match(lon) or not -180 <= float(lon) < 180:
            problems.append(f"{where}: lon {lon!r} is not a longitudeType")
    if type_name is not None:
        _check_sequence(element, type_name, where, problems)


def gpx_1_1_problems(document: bytes) -> list[str]:
    """Where `document` breaks the GPX 1.1 schema (an empty list: it does not)."""
    root = ET.fromstring(document)
    problems: list[str] = []
    if root.tag != NS + "gpx":
        return [f"root element is {root.tag}, not gpx in the GPX 1.1 namespace"]
    if root.get("version") != "1.1":
        problems.append(f"version is {root.get('version')!r}, fixed to '1.1' by the schema")
    if not root.get("creator"):
        problems.append("creator is required")
    _check_sequence(root, "gpxType", "gpx", problems)
    return problems
