"""Subscriber CSV files: what ``subscribers import`` reads and ``subscribers export`` writes.

Columns: ``email`` (required; ``address`` also accepted), ``topics`` (separated by spaces or
``|``), ``status`` (optional). A file without a header row is read as email, topics, status.
Exports of other tools mostly work as they are: a UTF-8 BOM, ``;`` or tab separators and the
statuses ``subscribed``/``cleaned`` are understood.

Spreadsheets run a cell that begins with ``=``, ``+``, ``-`` or ``@`` (or tab, CR) as a formula,
and readers choose their own addresses (``=1+1@example.org`` is a valid one). So the
export prefixes such cells with ``'``, which spreadsheets show as text, and a cell that already
begins with ``'`` gets one more; the import removes that one ``'`` again, so an export reads
back exactly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from distributor_channels.email import addresses
from distributor_channels.email.models import Subscriber, SubscriberStatus
from distributor_channels.email.topics import from_column, parse_topics

STATUS_WORDS = {
    "": None,
    "pending": SubscriberStatus.PENDING,
    "confirmed": SubscriberStatus.CONFIRMED,
    "subscribed": SubscriberStatus.CONFIRMED,
    "active": SubscriberStatus.CONFIRMED,
    "unsubscribed": SubscriberStatus.UNSUBSCRIBED,
    "bounced": SubscriberStatus.BOUNCED,
    "cleaned": SubscriberStatus.BOUNCED,
}
EXPORT_COLUMNS = ("email", "topics", "status", "created_at", "confirmed_at", "unsubscribed_at")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_QUOTE = "'"


def neutralise(cell: str) -> str:
    """The cell as a spreadsheet shows it as text, never runs it (``'`` before a formula)."""
    if cell.startswith((*FORMULA_STARTS, _QUOTE)):
        return _QUOTE + cell
    return cell


def restore(cell: str) -> str:
    """What ``neutralise`` was given; other tools' cells (``'o@example.org``) stay as they are."""
    if cell.startswith(_QUOTE) and cell[1:2] in (*FORMULA_STARTS, _QUOTE):
        return cell[1:]
    return cell


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One valid row: a normalised address, its topics (None: column absent) and status."""

    line: int
    address: str
    topics: list[str] | None
    status: str | None


@dataclass
class CsvRead:
    rows: list[CsvRow]
    problems: list[str]
    duplicates: int = 0


def read_rows(text: str, source: str = "csv") -> CsvRead:
    """Parse a subscriber CSV; every bad row is reported as ``source:line: problem``."""
    text = text.removeprefix("\ufeff")
    records = list(csv.reader(io.StringIO(text), _dialect(text[:4096])))
    read = CsvRead([], [])
    if not records:
        return read
    columns, start = _columns(records[0])
    seen: set[str] = set()
    for index, record in enumerate(records[start:], start=start + 1):
        if not any(cell.strip() for cell in record):
            continue
        row = _row(record, columns, index, source, read.problems)
        if row is None:
            continue
        if row.address in seen:
            read.duplicates += 1
            continue
        seen.add(row.address)
        read.rows.append(row)
    return read


def _dialect(sample: str) -> type[csv.Dialect]:
    """Excel's dialect with the sample's separator. Only the separator is sniffed: the sniffer
    takes the ``'`` of neutralised cells (``'=x``, ``'-y``) for a quote character."""
    try:
        sniffed = csv.Sniffer().sniff(sample, ",;\t")
    except csv.Error:
        return csv.excel

    class Sniffed(csv.excel):
        delimiter = sniffed.delimiter
        skipinitialspace = sniffed.skipinitialspace

    return Sniffed


def _columns(first: Sequence[str]) -> tuple[dict[str, int], int]:
    names = [cell.strip().lower() for cell in first]
    if "email" in names or "address" in names or "email address" in names:
        email = next(names.index(n) for n in ("email", "email address", "address") if n in names)
        columns = {"email": email}
        for name in ("topics", "status"):
            if name in names:
                columns[name] = names.index(name)
        return columns, 1
    return {"email": 0, "topics": 1, "status": 2}, 0


def _row(
    record: Sequence[str], columns: dict[str, int], line: int, source: str, problems: list[str]
) -> CsvRow | None:
    def cell(name: str) -> str | None:
        index = columns.get(name)
        if index is None or index >= len(record):
            return None
        return restore(record[index].strip()).strip()

    try:
        address = addresses.normalise(cell("email") or "")
    except addresses.InvalidAddress as exc:
        problems.append(f"{source}:{line}: {cell('email')!r}: {exc}")
        return None
    status_word = (cell("status") or "").lower()
    if status_word not in STATUS_WORDS:
        known = ", ".join(w for w in STATUS_WORDS if w)
        problems.append(f"{source}:{line}: unknown status {status_word!r} (known: {known})")
        return None
    topics_cell = cell("topics")
    topics = parse_topics(topics_cell) if topics_cell is not None else None
    return CsvRow(line, address, topics, STATUS_WORDS[status_word])


def write_rows(readers: Iterable[Subscriber]) -> str:
    """The export: one row per reader, topics joined with ``|`` (they may contain spaces)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for reader in readers:
        row = [
            reader.address,
            "|".join(from_column(reader.topics)),
            reader.status,
            _iso(reader.created_at),
            _iso(reader.confirmed_at),
            _iso(reader.unsubscribed_at),
        ]
        writer.writerow([neutralise(cell) for cell in row])
    return out.getvalue()


def _iso(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else ""
