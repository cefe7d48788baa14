"""GPX 1.1 track reading (trkpt lat/lon/ele/time) for the desktop location replay.

GPX files come from outside (testers, e-mail), so the XML parser must refuse DOCTYPEs and
entities (billion laughs, external entities). defusedxml is used when it is installed;
otherwise expat is driven directly with every DTD hook raising, which is the same defence
(defusedxml is not a declared dependency today, so the fallback is the path normally taken).
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET  # only TreeBuilder: parsing is hardened below
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn
from xml.parsers import expat

MAX_BYTES = 20 * 1024 * 1024  # a week of 1 Hz points is ~60 MB; replays are short walks
_NAMESPACES = ("http://www.topografix.com/GPX/1/1", "http://www.topografix.com/GPX/1/0")


class GpxError(ValueError):
    """Not a usable GPX track (malformed, hostile, or out-of-range values)."""


@dataclass(frozen=True)
class TrackPoint:
    lat: float
    lon: float
    ele: float | None
    time: datetime | None  # UTC


def _refuse(*_: Any) -> NoReturn:
    raise GpxError("GPX with a DOCTYPE, entity declaration or external entity is refused")


def _parse_xml(data: bytes) -> ET.Element:
    try:
        import defusedxml.ElementTree as dET
    except ImportError:
        pass
    else:
        try:
            root: ET.Element = dET.fromstring(data, forbid_dtd=True)
            return root
        except (dET.ParseError, ValueError) as exc:  # DefusedXmlException is a ValueError
            raise GpxError(f"bad GPX: {exc}") from exc
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")

    def qname(name: str) -> str:  # expat gives "uri}local"; ElementTree wants "{uri}local"
        return "{" + name if "}" in name else name

    parser.StartElementHandler = lambda name, attrs: builder.start(
        qname(name), {qname(k): v for k, v in attrs.items()})
    parser.EndElementHandler = lambda name: builder.end(qname(name))
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(data, True)
        return builder.close()
    except expat.ExpatError as exc:
        raise GpxError(f"bad GPX: {exc}") from exc


def _float(text: str | None, what: str, low: float, high: float) -> float:
    try:
        value = float(text) if text is not None else math.nan
    except ValueError:
        value = math.nan
    if not low <= value <= high:  # also false for NaN
        raise GpxError(f"{what} {text!r} is not in [{low}, {high}]")
    return value


def _time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise GpxError(f"bad GPX time {text!r}") from exc
    if moment.tzinfo is None:  # GPX 1.1 says UTC; a missing zone means UTC there
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_gpx(source: str | os.PathLike[str] | bytes) -> list[TrackPoint]:
    """All track points of all tracks/segments, in document order."""
    if isinstance(source, bytes):
        data = source
    else:
        with open(source, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise GpxError("GPX file too large")
    root = _parse_xml(data)
    ns = next((n for n in _NAMESPACES if root.tag == f"{{{n}}}gpx"), None)
    if ns is None:
        raise GpxError(f"not a GPX 1.x document (root {root.tag!r})")
    points = []
    for trkpt in root.iter(f"{{{ns}}}trkpt"):
        ele, when = trkpt.find(f"{{{ns}}}ele"), trkpt.find(f"{{{ns}}}time")
        points.append(TrackPoint(
            lat=_float(trkpt.get("lat"), "lat", -90.0, 90.0),
            lon=_float(trkpt.get("lon"), "lon", -180.0, 180.0),
            ele=None if ele is None or not ele.text
            else _float(ele.text, "ele", -12_000.0, 100_000.0),
            time=None if when is None or not when.text else _time(when.text)))
    if not points:
        raise GpxError("GPX has no track points")
    times = [p.time for p in points if p.time is not None]
    if any(b < a for a, b in zip(times, times[1:], strict=False)):
        raise GpxError("GPX track times go backwards")
    return points


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres; plenty for walking-scale tracks."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(min(1.0, h)))
