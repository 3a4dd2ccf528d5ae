"""services/api/export/gpx.py: the same GPX 1.1 from a path however its JSON text is written."""

from __future__ import annotations

import datetime as dt
import uuid

import gpxpy
import orjson

from services.api.export.gpx import walk_gpx
from tests.api.export.gpx_schema import gpx_1_1_problems

STARTED = dt.datetime(2026, 11, 20, 7, 0, tzinfo=dt.UTC)
WALK_ID = uuid.UUID(int=7)


def test_a_path_written_other_than_postgresqls_way_gives_the_same_document() -> None:
    points = [
        {"t": "2026-11-20T07:00:00.000000+00:00", "lat": 37.5, "lng": 127.25},
        {"t": 1763622001.5, "lat": -0.00001, "lng": 179.999},
        {"t": "2026-11-20T16:00:02.000000+09:00", "lat": 90, "lng": -180},
    ]
    as_postgresql = (
        '[{"t": "2026-11-20T07:00:00.000000+00:00", "lat": 37.5, "lng": 127.25}, '
        '{"t": 1763622001.5, "lat": -0.00001, "lng": 179.999}, '
        '{"t": "2026-11-20T16:00:02.000000+09:00", "lat": 90, "lng": -180}]'
    )
    compact = orjson.dumps(points).decode()  # `1e-05`, no spaces: the JSON path

    ours, other = (walk_gpx(WALK_ID, STARTED, None, text) for text in (as_postgresql, compact))

    assert gpx_1_1_problems(ours) == gpx_1_1_problems(other) == []
    read = [gpxpy.parse(doc.decode()).tracks[0].segments[0].points for doc in (ours, other)]
    for mine, theirs in zip(*read, strict=True):
        assert (mine.latitude, mine.longitude, mine.time) == (
            theirs.latitude,
            theirs.longitude,
            theirs.time,
        )
    times = [p.time for p in read[0]]
    assert times == [
        STARTED,
        dt.datetime.fromtimestamp(1763622001.5, dt.UTC),
        STARTED + dt.timedelta(seconds=2),
    ]


def test_a_memo_is_escaped_and_loses_what_xml_cannot_hold() -> None:
    document = walk_gpx(WALK_ID, STARTED, "a <b> & \x01c\x0b", "[]")

    assert gpx_1_1_problems(document) == []
    assert gpxpy.parse(document.decode()).tracks[0].description == "a <b> & c"
