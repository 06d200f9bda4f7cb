"""Build ``skportfolio/datasets/data/industry_returns.csv.gz`` from linearmodels.

The ``linearmodels`` wheel ships ``linearmodels/datasets/french/french.csv.bz2``,
a monthly extract (1949-01 to 2017-03) of the Kenneth R. French Data Library
(https://mba.tuck.dartmouth.edu/pages/faculty/ken.french/data_library.html).
This script keeps its 12 industry portfolios and the five factor columns
(``MktRF``, ``SMB``, ``HML``, ``Mom``, ``RF``) and writes them as a small,
reproducible gzip-compressed CSV.

Units: the linearmodels file already stores DECIMAL returns (French publishes
percent; linearmodels divided by 100, which left binary noise such as
``0.011699999999999999``). French's two-decimal percent precision is four
decimals in decimal units, so every value is rounded to 4 decimals; the script
refuses to write if that rounding would move any value by more than 1e-9, or if
the values look like percent. Dates are written as month ends (``1949-01-31``)
because each value is the return over that calendar month; the source labels
months by their first day.

Usage::

    python tools/build_industry_dataset.py /path/to/linearmodels-*.whl
    python tools/build_industry_dataset.py /path/to/french.csv.bz2 -o out.csv.gz
"""

import argparse
import bz2
import gzip
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from skportfolio.datasets._industry import _FACTORS, _INDUSTRIES

MEMBER = "linearmodels/datasets/french/french.csv.bz2"
# The column layout is the loader's, so the file and its reader cannot drift apart.
INDUSTRIES = list(_INDUSTRIES)
FACTORS = list(_FACTORS)
DECIMALS = 4
DEFAULT_OUTPUT = (
    Path(__file__).resolve().parents[1]
    / "skportfolio"
    / "datasets"
    / "data"
    / "industry_returns.csv.gz"
)


def read_compressed_source(path):
    """Return the bz2-compressed bytes from a wheel or a bare ``.csv.bz2``."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as wheel:
            return wheel.read(MEMBER)
    return path.read_bytes()


def parse_source(compressed):
    """Parse the linearmodels CSV into a frame indexed by month-end dates."""
    frame = pd.read_csv(io.BytesIO(bz2.decompress(compressed)))
    missing = sorted(set(INDUSTRIES + FACTORS + ["dates"]) - set(frame.columns))
    if missing:
        raise ValueError(f"source lacks expected columns {missing}")
    month_starts = pd.to_datetime(frame["dates"], format="%Y-%m-%d")
    frame.index = pd.DatetimeIndex(
        month_starts + pd.offsets.MonthEnd(0), name="date"
    ).as_unit("s")
    return frame[INDUSTRIES + FACTORS].astype(np.float64)


def check_source(frame):
    """Refuse data that is not a gap-free monthly panel of decimal returns."""
    if frame.isna().any().any():
        raise ValueError("source contains missing values")
    months = frame.index.to_period("M").asi8
    if not (frame.index.is_month_end.all() and (np.diff(months) == 1).all()):
        raise ValueError("source months are not consecutive and unique")
    # Monthly industry returns in percent would have a median magnitude above 1.
    if frame[INDUSTRIES].abs().median().max() > 0.5:
        raise ValueError("source looks like percent, expected decimal returns")
    values = frame.to_numpy()
    rounding_error = np.abs(values - np.round(values, DECIMALS)).max()
    if rounding_error > 1e-9:
        raise ValueError(
            f"source has more than {DECIMALS} decimals (max change {rounding_error})"
        )


def to_csv_gz_bytes(frame):
    """Serialise with shortest float repr and a fixed gzip header (reproducible)."""
    text = frame.round(DECIMALS).to_csv(date_format="%Y-%m-%d", lineterminator="\n")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as gz:
        gz.write(text.encode("ascii"))
    return buffer.getvalue()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="linearmodels wheel or french.csv.bz2")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    frame = parse_source(read_compressed_source(args.source))
    check_source(frame)
    payload = to_csv_gz_bytes(frame)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(payload)
    print(
        f"wrote {args.output} ({len(payload)} bytes): {frame.shape[0]} months "
        f"{frame.index[0]:%Y-%m} to {frame.index[-1]:%Y-%m}, "
        f"columns {list(frame.columns)}"
    )


if __name__ == "__main__":
    main()
