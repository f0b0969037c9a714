"""Draw the world: counterparties, instruments, desks and accounts, market volatility.

Everything latent (operational quality, hard-to-borrow, cash stress, volatility) stays in
numpy arrays beside the public tables; only the public tables are written.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.markets import MARKETS
from core.vocabulary import ASSET_CLASSES
from features.data.simulator.params import Mechanisms
from features.data.sources.sec_ftd import ftd_intensity, read_sec_ftd

__all__ = ["DESKS", "World", "draw_world", "isin_from_nsin"]

MARKET_CODES = np.array(list(MARKETS))
_ETF_WORDS = re.compile(r"\b(?:ETF|ETFS|FD|FUND|TRUST|SPDR|ISHARES|PROSHARES|INDEX)\b")
_NOT_SHARES = re.compile(r"\b(?:WT|WTS|WARRANT|WARRANTS|RIGHT|RIGHTS|UNIT|UNITS)\b|EXP ")

# desk -> (asset class, markets it trades)
DESKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "EQ-AMER": ("EQUITY", ("US", "CA")),
    "EQ-EMEA": ("EQUITY", ("GB", "DE", "FR")),
    "EQ-APAC": ("EQUITY", ("JP",)),
    "ETF-MM": ("ETF", tuple(MARKETS)),
    "RATES-AMER": ("GOVT_BOND", ("US", "CA")),
    "RATES-INTL": ("GOVT_BOND", ("GB", "DE", "FR", "JP")),
    "CREDIT-AMER": ("CORP_BOND", ("US", "CA")),
    "CREDIT-INTL": ("CORP_BOND", ("GB", "DE", "FR", "JP")),
}
_NAME_HEADS = np.array(
    [
        "Northbridge",
        "Harbour",
        "Atlas",
        "Meridian",
        "Granite",
        "Summit",
        "Kestrel",
        "Beacon",
        "Ashford",
        "Sterling",
        "Orion",
        "Halcyon",
        "Linden",
        "Crescent",
        "Redwood",
        "Tamar",
        "Osprey",
        "Fairhaven",
        "Aurora",
        "Blackwater",
        "Kingsway",
        "Silverline",
        "Westgate",
        "Ember",
    ]
)
_NAME_TAILS = {
    "BROKER_DEALER": "Securities",
    "CUSTODIAN": "Custody Services",
    "ASSET_MANAGER": "Asset Management",
    "HEDGE_FUND": "Capital Partners",
    "INSURER_PENSION": "Pension Fund",
    "CORPORATE": "Holdings",
}


@dataclass
class World:
    counterparties: pd.DataFrame
    instruments: pd.DataFrame
    accounts: pd.DataFrame  # account_id, desk_id (+ latent columns, not written)
    cpty_quality: np.ndarray  # latent operational quality at the start
    cpty_drift_end: np.ndarray  # quality multiplier reached at the end of the period
    cpty_weight: np.ndarray  # share of trading volume
    instr_htb: np.ndarray  # hard to borrow
    instr_ftd_rank: np.ndarray  # in [0, 1]: how persistently the instrument fails to deliver
    account_short: np.ndarray  # short-selling propensity multiplier
    account_cash: np.ndarray  # cash-stress multiplier
    vol: pd.DataFrame  # index: business day, columns: market, values: volatility multiplier


def isin_from_nsin(country: str, nsin: str) -> str:
    """ISIN with its check digit (Luhn over the letters-as-numbers expansion)."""
    body = country + nsin
    digits = "".join(str(int(ch, 36)) for ch in body)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
        total += d // 10 + d % 10
    return body + str((10 - total % 10) % 10)


def _pick(rng: np.random.Generator, shares: dict[str, float], size: int) -> np.ndarray:
    keys = np.array(list(shares))
    p = np.array(list(shares.values()), dtype=float)
    return keys[rng.choice(len(keys), size=size, p=p / p.sum())]


def _counterparties(
    rng: np.random.Generator, P: Mechanisms, n: int, start: dt.date, span_days: int
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    types = _pick(rng, dict(P.CPTY_TYPE_SHARE), n)
    domicile = _pick(rng, dict(P.CPTY_DOMICILE_SHARE), n)
    new = rng.random(n) < P.CPTY_NEW_SHARE
    offset = np.where(new, rng.integers(0, max(span_days, 2), n), -rng.integers(60, 3650, n))
    onboarded = np.datetime64(start, "D") + offset
    type_q = np.array([P.CPTY_TYPE_QUALITY[t] for t in types])
    quality = type_q * np.exp(rng.normal(0.0, P.CPTY_QUALITY_SIGMA, n))
    drifting = rng.random(n) < P.CPTY_DRIFTING_SHARE
    drift_end = np.where(drifting, rng.uniform(*P.CPTY_DRIFT_END, n), 1.0)
    weight = rng.pareto(P.CPTY_VOLUME_PARETO, n) + 0.05
    heads = _NAME_HEADS[rng.integers(0, len(_NAME_HEADS), n)]
    names = [
        f"{h} {_NAME_TAILS[t]} {i:03d}" for i, (h, t) in enumerate(zip(heads, types, strict=True))
    ]
    frame = pd.DataFrame(
        {
            "counterparty_id": [f"CP{i:05d}" for i in range(n)],
            "name": names,
            "cpty_type": types,
            "domicile_market": domicile,
            "onboarded_date": onboarded.astype("datetime64[ns]"),
        }
    )
    return frame, quality, drift_end, weight / weight.sum()


def _sec_universe(sec_dir: Path) -> pd.DataFrame:
    """US shares from the SEC files: CUSIP, symbol, price, ETF flag and FTD rank."""
    per = ftd_intensity(read_sec_ftd(sec_dir))
    desc = per["description"].fillna("").str.upper()
    keep = per["price"].ge(1.0) & per["symbol"].notna() & ~desc.str.contains(_NOT_SHARES)
    per = per[keep].copy()
    per["is_etf"] = desc[keep].str.contains(_ETF_WORDS)
    return per.reset_index(drop=True)


def _instruments(
    rng: np.random.Generator,
    P: Mechanisms,
    n: int,
    start: dt.date,
    span_days: int,
    sec_dir: Path | None,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    asset = _pick(rng, dict(P.INSTRUMENT_SHARE), n)
    market = np.empty(n, dtype=object)
    for ac in ASSET_CLASSES:
        idx = np.flatnonzero(asset == ac)
        market[idx] = _pick(rng, P.MARKET_SHARE[ac], idx.size)
    market = market.astype(str)
    alnum = np.array(list("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"))
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    nsin = np.array(
        [
            "".join(s) + str(d)
            for s, d in zip(
                alnum[rng.integers(0, alnum.size, (n, 8))], rng.integers(0, 10, n), strict=True
            )
        ],
        dtype=object,
    )
    symbol = np.array(
        ["".join(s) for s in letters[rng.integers(0, letters.size, (n, 4))]], dtype=object
    )
    price = np.exp(rng.normal(np.log(40.0), 1.0, n))
    rank = rng.random(n)
    is_bond = np.isin(asset, ["GOVT_BOND", "CORP_BOND"])
    price = np.where(
        is_bond, np.round(rng.normal(100.0, 8.0, n).clip(60, 140), 3), np.round(price, 2)
    )
    coupon = np.round(rng.uniform(0.5, 6.5, n) * 8) / 8
    maturity = start.year + rng.integers(1, 31, n)
    bond_name = np.array(
        [f"{s[:3]} {c:.3f} {y}" for s, c, y in zip(symbol, coupon, maturity, strict=True)]
    )
    symbol = np.where(is_bond, bond_name, symbol).astype(object)
    if sec_dir is not None:
        sec = _sec_universe(sec_dir)
        for ac, want_etf in (("EQUITY", False), ("ETF", True)):
            slots = np.flatnonzero((asset == ac) & (market == "US"))
            pool = sec[sec["is_etf"] == want_etf]
            take = pool.sample(n=min(slots.size, len(pool)), random_state=int(rng.integers(2**31)))
            slots = slots[: len(take)]
            nsin[slots] = take["cusip"].to_numpy()
            symbol[slots] = take["symbol"].to_numpy()
            price[slots] = take["price"].to_numpy()
            rank[slots] = take["rank"].to_numpy()
    rank = np.where(is_bond, 0.0, rank)
    ids = np.array([isin_from_nsin(m, s) for m, s in zip(market, nsin, strict=True)])
    new = rng.random(n) < np.array([P.NEW_ISSUE_SHARE[a] for a in asset])
    offset = np.where(new, rng.integers(0, max(span_days, 2), n), -rng.integers(30, 11000, n))
    issue = np.datetime64(start, "D") + offset
    adv_median = np.select(
        [asset == "EQUITY", asset == "ETF"], [800_000.0, 1_500_000.0], default=20_000_000.0
    )
    adv = np.round(adv_median * np.exp(rng.normal(0.0, 1.4, n)), 0)
    htb_p = np.array([P.HTB_SHARE[a] for a in asset]) + P.HTB_FTD_BOOST * rank**3
    htb = rng.random(n) < htb_p
    frame = pd.DataFrame(
        {
            "instrument_id": ids,
            "symbol": symbol,
            "asset_class": asset,
            "market": market,
            "currency": [MARKETS[m].currency for m in market],
            "issue_date": issue.astype("datetime64[ns]"),
            "avg_daily_volume": adv,
            "reference_price": price,
        }
    )
    dup = frame["instrument_id"].duplicated()  # a random NSIN collision: renumber it
    frame.loc[dup, "instrument_id"] = [
        f"{i}X{k}" for k, i in enumerate(frame.loc[dup, "instrument_id"])
    ]
    return frame, htb, rank


def _accounts(
    rng: np.random.Generator, P: Mechanisms, per_desk: int
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    desk = np.repeat(list(DESKS), per_desk)
    ids = [
        f"ACC-{d}-{k:03d}"
        for d, k in zip(desk, np.tile(np.arange(per_desk), len(DESKS)), strict=True)
    ]
    short = np.exp(rng.normal(0.0, P.ACCOUNT_SHORT_SIGMA, desk.size))
    cash = np.exp(rng.normal(0.0, P.CASH_STRESS_SIGMA, desk.size))
    return pd.DataFrame({"account_id": ids, "desk_id": desk}), short, cash


def _volatility(rng: np.random.Generator, P: Mechanisms, days: np.ndarray) -> pd.DataFrame:
    """Per market and day: AR(1) log-volatility with global spikes, as a multiplier."""
    n, m = days.size, len(MARKET_CODES)
    shocks = rng.normal(0.0, P.VOL_NOISE, (n, m))
    spikes = (rng.random(n) < P.VOL_SPIKE_PROB)[:, None] * P.VOL_SPIKE_SIZE
    x = np.zeros((n, m))
    for t in range(n):  # a short loop over days, not trades
        x[t] = (P.VOL_PERSISTENCE * x[t - 1] if t else 0.0) + shocks[t] + spikes[t]
    return pd.DataFrame(np.exp(x), index=days, columns=MARKET_CODES)


def draw_world(
    rng: np.random.Generator,
    P: Mechanisms,
    *,
    n_counterparties: int,
    n_instruments: int,
    accounts_per_desk: int,
    start: dt.date,
    days: np.ndarray,
    sec_dir: Path | None,
) -> World:
    span = int((days[-1] - days[0]).astype(int)) + 1
    cpty, quality, drift_end, weight = _counterparties(rng, P, n_counterparties, start, span)
    instr, htb, rank = _instruments(rng, P, n_instruments, start, span, sec_dir)
    accounts, short, cash = _accounts(rng, P, accounts_per_desk)
    return World(
        counterparties=cpty,
        instruments=instr,
        accounts=accounts,
        cpty_quality=quality,
        cpty_drift_end=drift_end,
        cpty_weight=weight,
        instr_htb=htb,
        instr_ftd_rank=rank,
        account_short=short,
        account_cash=cash,
        vol=_volatility(rng, P, days),
    )
