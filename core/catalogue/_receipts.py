"""Receipt features: for a sell, our latest buy of the instrument settling by the sell's ISD
(the receipt the delivery waits on) and how it stands at the scoring instant (computed by
``features.compute.receipts``; passed through the intraday view, like the day's state)."""

from __future__ import annotations

from enum import IntEnum

from core.actions import ReasonCode as R
from core.catalogue._feature import Family, Feature, named
from core.catalogue._intraday import INTRADAY_VIEW
from core.catalogue._request import REQUEST_SOURCE

__all__ = ["RECEIPT_FEATURES", "RECEIPT_REQUEST", "ReceiptStatus"]


class ReceiptStatus(IntEnum):
    """How the receipt stands at the instant: ``receipt_status``'s codes, in order of the risk
    they bring the delivery."""

    SETTLED = 0
    MATCHED = 1  # matched, not yet settled
    AFFIRMED = 2  # affirmed, not yet matched
    UNAFFIRMED = 3
    FAILED = 4  # failed, or cancelled: the securities will not come on the ISD

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    ReceiptStatus.SETTLED: "settled",
    ReceiptStatus.MATCHED: "matched, not yet settled",
    ReceiptStatus.AFFIRMED: "affirmed, not yet matched",
    ReceiptStatus.UNAFFIRMED: "not yet affirmed",
    ReceiptStatus.FAILED: "failed or cancelled",
}
_NO_RECEIPT = "not a delivery, or no buy of ours settling by its ISD"


def _days(v: float) -> str:
    return "the same day" if v == 0 else f"{v:,.0f} days earlier"


RECEIPT_FEATURES: tuple[Feature, ...] = (
    Feature(
        "receipt_status",
        "float",
        "our latest buy of the instrument settling by the sell's ISD, as of scoring: "
        + ", ".join(f"{s.value} {s.label}" for s in ReceiptStatus),
        INTRADAY_VIEW,
        Family.RECEIPT,
        R.RECEIPT,
        "Receipt this delivery waits on",
        named([s.label for s in ReceiptStatus]),
        _NO_RECEIPT,
    ),
    Feature(
        "receipt_days_before_isd",
        "float",
        "calendar days from that buy's ISD to the sell's",
        INTRADAY_VIEW,
        Family.RECEIPT,
        R.RECEIPT,
        "Receipt due",
        _days,
        _NO_RECEIPT,
    ),
)
RECEIPT_REQUEST: tuple[Feature, ...] = tuple(
    Feature(
        f"req_{f.name}", "float", f"{f.description} (NaN: none)", REQUEST_SOURCE, Family.REQUEST
    )
    for f in RECEIPT_FEATURES
)
"""The request fields carrying them, computed by the caller's side like the intraday ones."""
