"""The kinds of value and the shapes of the figures page's tables
(bot/console/figure_tables.py builds them): pure and language-free. Rows
and columns carry stable keys (also the CSV's codes) and the text keys the
page translates; numbers stay numbers until the page formats them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

# What a value is, for formatting it on the page and in the CSV.
COUNT = "count"          # a whole number
PERCENT = "percent"      # a fraction shown as a percentage
EUR = "eur"              # an amount in euros
NUMBER = "number"        # minutes, hours: one decimal
REFERENCE = "reference"  # a Reference
TEXT = "text"            # shown as is
INTERVAL = "interval"    # an Interval of fractions, shown as percentages
WORD = "word"            # a code shown as the text `figures_word_<code>`, in the CSV as the code


@dataclass(frozen=True)
class Reference:
    """What the reference deployment reported: one share or a range."""
    low: float
    high: Optional[float] = None


@dataclass(frozen=True)
class Interval:
    """A 95 % interval low..high of a fraction or of a difference of two."""
    low: float
    high: float


@dataclass(frozen=True)
class Column:
    key: str    # the page's title is the text `figures_col_<key>`
    kind: str


@dataclass(frozen=True)
class Row:
    key: str                         # stable code: "button", "no_whatsapp_account", "17", "2026-11"
    values: Tuple                    # one per column; None where there is no value
    text_key: Optional[str] = None   # the row's words, when there are any to translate
    label: Optional[str] = None      # shown as is when there is no text (hours, months, buckets)
    total: bool = False              # a summary row: in the table, not in the chart


@dataclass(frozen=True)
class Note:
    """A sentence under a table: text `key` with values of a kind each."""
    key: str
    values: Dict[str, Tuple[str, object]] = field(default_factory=dict)


@dataclass(frozen=True)
class FigureTable:
    name: str                       # in the CSV's URL: /console/figures/<name>.csv
    row_heading: str                # text key of the first column's title
    columns: Tuple[Column, ...]
    rows: Tuple[Row, ...]
    chart: str                      # "bar", "horizontal-bar" or "doughnut"
    plotted: Tuple[str, ...]        # the columns drawn, one data set each
    notes: Tuple[Note, ...] = ()
    needs_booking: bool = False     # made from the booking system's appointments

    @property
    def chart_rows(self) -> Tuple[Row, ...]:
        return tuple(row for row in self.rows if not row.total)

    def has_data(self) -> bool:
        """Something to draw: a plotted value other than zero or nothing."""
        indexes = [i for i, column in enumerate(self.columns) if column.key in self.plotted]
        return any(row.values[i] for row in self.chart_rows for i in indexes)


@dataclass(frozen=True)
class Headline:
    key: str                        # text `figures_head_<key>`
    kind: str
    value: Optional[float]
    part: Optional[int] = None      # what a share is made of, shown beside it
    whole: Optional[int] = None
    reference: Optional[Reference] = None


# --- CSV ------------------------------------------------------------------------------
def csv_value(kind: str, value) -> object:
    """A cell as a spreadsheet reads it: percentages as numbers of percent
    (77.78), references as they were reported (60-63), no units."""
    if value is None:
        return ""
    if kind == PERCENT:
        return round(value * 100, 2)
    if kind == REFERENCE:
        low = f"{value.low * 100:g}"
        return low if value.high is None else f"{low}-{value.high * 100:g}"
    if kind == INTERVAL:
        return f"{round(value.low * 100, 2):g} to {round(value.high * 100, 2):g}"
    if kind == EUR:
        return round(value, 4)
    return value
