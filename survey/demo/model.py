"""The synthetic-response model of the demo city, with its true values (docs/demo-model.md).

Everything here is pure (NumPy + the questionnaire definitions, no database), so a test can regenerate
the true values shipped in docs/demo-truth-<structure>.csv and check that simulated answers agree with
them.  Random effects are drawn from generators seeded by (seed, a hash of the entity's code), so an
agency's effect does not change when another agency is added.

For service point s of agency a, instrument k and item i in element e:

    logit P(satisfied | v_r, c_sd) = base_k + tier(s) + α_a + u_s + β_e + δ_ae + γ_ki + v_r + c_sd

v_r is the respondent's own satisfaction, shared by every answer of that respondent (answers of one
citizen move together, as in real surveys), and c_sd a small effect of the counter on that day.  The
true value of an item at a service point is the marginal P(satisfied) = E[expit(η + v + c)] over both
(Gauss–Hermite quadrature); the true value of an item for agency a is the service-volume-weighted mean of
those over a's service points that use instrument k (what a post-stratified estimate targets); element,
overall and PAPI values follow from the questionnaire's own index definition (affine combinations of ratios).
"""

from __future__ import annotations

import math
import uuid
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property

import numpy as np

from questionnaires.loader import load_shipped
from questionnaires.model import Item, Questionnaire
from survey.demo.cantho import DemoServicePoint, Structure
from survey.demo.comments import DEMO_COMMENTS

# ---- the model's constants (documented in docs/demo-model.md)
INSTRUMENT_BY_CHANNEL = {"kiosk": "counter-quick", "qr": "sipas-2017"}
PAPI_INSTRUMENT = "papi-services"
BASE_P = {"sipas-2017": 0.87, "counter-quick": 0.93, PAPI_INSTRUMENT: 0.75}
PAPI_SHARE = 0.5  # of the QR responses at commune counters: citizens there answer the PAPI-style questionnaire
# A respondent's shared satisfaction (logit scale) and a counter-day effect.  SD_RESPONDENT is calibrated so
# that the mean inter-item correlation of sipas-2017 answers is ≈ 0.49, what a 7-item satisfaction scale with
# Cronbach's α = 0.871 implies (Spearman–Brown); one-stop surveys in Vietnam report α of 0.86–0.87 for such
# scales (docs/demo-model.md).  tests/demo/test_demo.py measures the simulated correlation.
SD_RESPONDENT, SD_COUNTER_DAY = 1.6, 0.15
SLOPE_LEVEL = 1.0  # how strongly the shared effect also moves the level within satisfied / not satisfied
TIER_EFFECT = {"centre": 0.20, "district": 0.0, "commune": -0.20}
ELEMENT_EFFECT = {"E1": 0.10, "E2": -0.25, "E3": 0.30, "E4": 0.05, "E5": -0.45, "HANDLING": 0.0}
SD_AGENCY, SD_AGENCY_ELEMENT, SD_ITEM, SD_SERVICE_POINT = 0.45, 0.25, 0.20, 0.30
MEAN_VOLUME = {"centre": 500.0, "district": 350.0, "commune": 90.0}  # dossiers per month
SD_LOG_VOLUME = 0.40
SEASON = (1.0, 0.75, 1.05, 1.0, 1.0, 1.0, 1.0, 0.95, 1.0, 1.05, 1.05, 1.10)  # Jan … Dec (Tết dip in Feb)
GH_NODES, GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(40)  # E[f(Z)], Z ~ N(0, 1)
GH_WEIGHTS = GH_WEIGHTS / GH_WEIGHTS.sum()
SD_LOG_PROPENSITY, KIOSK_PROPENSITY = 0.50, 1.6
KIOSK_SHARE = 0.70  # of responses at a service point with a kiosk
P_MISSING, P_NO_OPINION = 0.03, 0.02
P_EXPECTATIONS = 0.60  # answers the multiple-choice "what should improve" item
P_COMMENT = 0.03
P_ENGLISH = 0.03
P_KHMER = 0.05  # of kiosk responses (counter-quick has Khmer texts; issue 15): the by-language table has km
COMMENTS = tuple(text for text, _topics in DEMO_COMMENTS)  # with known topics (issue 15)
LOCAL_OFFSET = timedelta(hours=7)  # Asia/Ho_Chi_Minh has no daylight saving time
WORK_MINUTES = ((7 * 60 + 30, 11 * 60 + 30), (13 * 60 + 30, 17 * 60))  # office hours


def _key(*parts: str) -> int:
    return zlib.crc32("|".join(parts).encode("utf-8"))


def _normal(seed: int, *parts: str) -> float:
    return float(np.random.default_rng([seed, _key(*parts)]).normal())


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def level_weights(values: Iterable[int]) -> np.ndarray:
    """How a satisfied answer spreads over the satisfied levels: worst → best weigh n, n−1, …, 1
    (on the 5-level scale "Hài lòng" (4) is twice as likely as "Rất hài lòng" (5))."""
    n = len(list(values))
    return np.arange(n, 0, -1, dtype=float) / (n * (n + 1) / 2)


def unsat_weights(n: int) -> np.ndarray:
    """How a not-satisfied answer spreads over the other levels: worst → best weigh 1, 4, 9, … (the mildest
    dissatisfaction is the most common: on the 5-level scale levels 1:2:3 = 1:4:9)."""
    w = np.arange(1, n + 1, dtype=float) ** 2
    return w / w.sum()


def level_probabilities(base: np.ndarray, shared: np.ndarray) -> np.ndarray:
    """Level probabilities within the satisfied (or the not-satisfied) levels for respondents with effect
    `shared`: the base weights tilted by exp(SLOPE_LEVEL · shared · rank), so a more satisfied respondent
    also picks the better level more often (at shared = 0 they are the base weights).  [respondent, level]."""
    rank = np.arange(len(base), dtype=float)
    tilted = base[None, :] * np.exp(SLOPE_LEVEL * np.asarray(shared, dtype=float)[:, None] * rank[None, :])
    return tilted / tilted.sum(axis=1, keepdims=True)


def _pick_levels(base: np.ndarray, shared: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index of the level drawn (uniform `u`) from `level_probabilities(base, shared)`."""
    cum = np.cumsum(level_probabilities(base, shared), axis=1)
    return np.minimum((cum <= u[:, None]).sum(axis=1), len(base) - 1)


def item_element(q: Questionnaire, item: Item) -> str | None:
    """The index element an item belongs to; per-element satisfaction items (E1.SAT) belong to their section."""
    for el in q.index.elements:
        if item.code in el.items:
            return el.code
    codes = {el.code for el in q.index.elements}
    return item.section if item.section in codes else None


def scale_moments(item: Item) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(satisfied levels, their probabilities, not-satisfied levels, their probabilities)."""
    assert item.scale is not None
    sat = np.array(sorted(item.scale.satisfied))
    uns = np.array(sorted(set(item.scale.values) - set(item.scale.satisfied)))
    return sat, level_weights(sat), uns, unsat_weights(len(uns))


@dataclass
class Simulated:
    """Synthetic responses as arrays (one entry per response), ready for a bulk insert."""

    sp: np.ndarray  # index into model.service_points
    month: np.ndarray  # index into structure.months
    channel: np.ndarray  # "kiosk" / "qr"
    language: np.ndarray
    submitted_at: list[datetime]
    client_id: list[str]
    instrument: np.ndarray  # questionnaire id per response
    # per instrument: row positions (into the arrays above) and a value matrix (−1 = unanswered, 0 = no opinion)
    rows: dict[str, np.ndarray] = field(default_factory=dict)
    values: dict[str, np.ndarray] = field(default_factory=dict)
    items: dict[str, list[str]] = field(default_factory=dict)
    # (response, instrument, item, chosen options) and (response, item, text)
    choices: list[tuple[int, str, str, list[int]]] = field(default_factory=list)
    comments: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.sp)


class DemoModel:
    """Effects, service volumes and true values for one structure and seed."""

    def __init__(self, structure: Structure, seed: int = 2022,
                 questionnaires: dict[str, Questionnaire] | None = None):
        self.structure = structure
        self.seed = seed
        self.questionnaires = questionnaires or {k: load_shipped(k) for k in BASE_P}
        self.service_points: list[DemoServicePoint] = structure.service_points
        self.agencies = sorted({sp.agency for sp in self.service_points})

    # ---------------------------------------------------------------- effects
    def agency_effect(self, agency: str) -> float:
        return SD_AGENCY * _normal(self.seed, "agency", agency)

    def agency_element_effect(self, agency: str, element: str) -> float:
        return SD_AGENCY_ELEMENT * _normal(self.seed, "agency-element", agency, element)

    def item_effect(self, instrument: str, item: str) -> float:
        return SD_ITEM * _normal(self.seed, "item", instrument, item)

    def service_point_effect(self, sp: str) -> float:
        return SD_SERVICE_POINT * _normal(self.seed, "service-point", sp)

    def scored_items(self, instrument: str) -> list[Item]:
        return [it for it in self.questionnaires[instrument].scored_items() if it.type == "scale"]

    @cached_property
    def logits(self) -> dict[str, np.ndarray]:
        """instrument → matrix [service point, scored scale item] of logit P(satisfied)."""
        out = {}
        for k, q in self.questionnaires.items():
            items = self.scored_items(k)
            mat = np.zeros((len(self.service_points), len(items)))
            for j, it in enumerate(items):
                el = item_element(q, it)
                item_part = self.item_effect(k, it.code) + (ELEMENT_EFFECT.get(el, 0.0) if el else 0.0)
                for s, sp in enumerate(self.service_points):
                    mat[s, j] = (logit(BASE_P[k]) + TIER_EFFECT[sp.tier] + self.agency_effect(sp.agency)
                                 + self.service_point_effect(sp.code) + item_part
                                 + (self.agency_element_effect(sp.agency, el) if el else 0.0))
            out[k] = mat
        return out

    def p_satisfied(self, instrument: str) -> np.ndarray:
        """Marginal P(satisfied) per [service point, item]: the logit-normal mean over respondents and days."""
        z = math.hypot(SD_RESPONDENT, SD_COUNTER_DAY) * GH_NODES
        return (1.0 / (1.0 + np.exp(-(self.logits[instrument][..., None] + z)))) @ GH_WEIGHTS

    def mean_level(self, instrument: str) -> np.ndarray:
        """Marginal mean level per [service point, item]: over the shared effect z, P(sat | z) times the mean
        satisfied level at z plus (1 − P(sat | z)) times the mean other level at z."""
        z = math.hypot(SD_RESPONDENT, SD_COUNTER_DAY) * GH_NODES
        p = 1.0 / (1.0 + np.exp(-(self.logits[instrument][..., None] + z)))  # [sp, item, node]
        out = np.zeros(p.shape[:2])
        for j, it in enumerate(self.scored_items(instrument)):
            sat, ps, uns, pu = scale_moments(it)
            m_sat = level_probabilities(ps, z) @ sat  # [node]
            m_uns = level_probabilities(pu, z) @ uns
            out[:, j] = (p[:, j, :] * m_sat + (1 - p[:, j, :]) * m_uns) @ GH_WEIGHTS
        return out

    # ---------------------------------------------------------------- volumes and propensities
    @cached_property
    def volumes(self) -> np.ndarray:
        """Dossiers handled, [service point, month] (fixed by the seed; independent of the response count)."""
        months = self.structure.months
        out = np.zeros((len(self.service_points), len(months)), dtype=np.int64)
        for s, sp in enumerate(self.service_points):
            rng = np.random.default_rng([self.seed, _key("volume", sp.code)])
            level = MEAN_VOLUME[sp.tier] * math.exp(SD_LOG_VOLUME * rng.normal())
            lam = np.array([level * SEASON[m.month - 1] for m in months])
            out[s] = np.maximum(rng.poisson(lam), 1)
        return out

    @cached_property
    def propensity(self) -> np.ndarray:
        """Responses per dossier, relative, per service point (self-selection differs between counters)."""
        return np.array([math.exp(SD_LOG_PROPENSITY * _normal(self.seed, "propensity", sp.code))
                         * (KIOSK_PROPENSITY if sp.kiosk else 1.0) for sp in self.service_points])

    def offers(self, instrument: str) -> np.ndarray:
        """Which service points collect `instrument` (counter-quick needs a kiosk; the QR link is everywhere;
        the PAPI-style questionnaire is answered at commune counters only)."""
        if instrument == INSTRUMENT_BY_CHANNEL["kiosk"]:
            return np.array([sp.kiosk is not None for sp in self.service_points])
        if instrument == PAPI_INSTRUMENT:
            return np.array([sp.tier == "commune" for sp in self.service_points])
        return np.ones(len(self.service_points), dtype=bool)

    # ---------------------------------------------------------------- true values
    def truth(self) -> list[dict[str, object]]:
        """True item/element/overall values per agency (and for the whole city, agency `ALL`)."""
        rows: list[dict[str, object]] = []
        volume = self.volumes.sum(axis=1).astype(float)
        groups = [(a, np.array([sp.agency == a for sp in self.service_points])) for a in self.agencies]
        groups.append(("ALL", np.ones(len(self.service_points), dtype=bool)))
        for k, q in sorted(self.questionnaires.items()):
            items = self.scored_items(k)
            p, mean = self.p_satisfied(k), self.mean_level(k)
            spec = q.index_spec()
            for agency, members in groups:
                mask = members & self.offers(k)
                if not mask.any():
                    continue
                w = volume * mask
                p_item = (w[:, None] * p).sum(axis=0) / w.sum()
                mean_item = (w[:, None] * mean).sum(axis=0) / w.sum()
                ratios: dict[tuple[str, str], float] = {}
                for j, it in enumerate(items):
                    ratios[(it.code, "sat")] = p_item[j]
                    ratios[(it.code, "mean")] = mean_item[j]
                for m in spec.measures:
                    value = m.const + sum(coef * ratios[(key.item, key.kind)] for key, coef in m.terms)
                    rows.append({"structure": self.structure.name, "seed": self.seed, "instrument": k,
                                 "version": q.version, "agency": agency, "measure": m.code, "kind": m.kind,
                                 "true_value": value})
        return rows

    # ---------------------------------------------------------------- simulation
    def simulate(self, n: int) -> Simulated:
        """`n` synthetic responses over the structure's months (deterministic for a given seed and n)."""
        rng = np.random.default_rng([self.seed, _key("responses")])
        months = self.structure.months
        rate = self.volumes * self.propensity[:, None]
        counts = rng.multinomial(n, (rate / rate.sum()).ravel()).reshape(rate.shape)
        sp_idx, month_idx = np.nonzero(counts)
        reps = counts[sp_idx, month_idx]
        sp = np.repeat(sp_idx, reps)
        month = np.repeat(month_idx, reps)
        has_kiosk = np.array([s.kiosk is not None for s in self.service_points])[sp]
        channel = np.where(has_kiosk & (rng.random(n) < KIOSK_SHARE), "kiosk", "qr")
        u = rng.random(n)  # one draw decides the language (as before the Khmer share: the same stream of draws)
        language = np.where(u < P_ENGLISH, "en", np.where((channel == "kiosk") & (u < P_ENGLISH + P_KHMER), "km", "vi"))
        instrument = np.array([INSTRUMENT_BY_CHANNEL[c] for c in channel.tolist()], dtype=object)
        papi = (channel == "qr") & self.offers(PAPI_INSTRUMENT)[sp] & (rng.random(n) < PAPI_SHARE)
        if PAPI_INSTRUMENT in self.questionnaires:
            instrument[papi] = PAPI_INSTRUMENT
        sim = Simulated(sp, month, channel, language, self._timestamps(rng, months, month),
                        [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)], instrument)
        shared = self._shared_effects(rng, sim)
        for k in self.questionnaires:
            rows = np.nonzero(instrument == k)[0]
            if not len(rows):
                continue
            sim.rows[k] = rows
            sim.items[k], sim.values[k] = self._answers(rng, k, sp[rows], shared[rows])
            self._extras(rng, sim, k, rows)
        sim.choices.sort(key=lambda c: c[0])  # by response, as the bulk loader expects
        sim.comments.sort(key=lambda c: c[0])
        return sim

    def _shared_effects(self, rng: np.random.Generator, sim: Simulated) -> np.ndarray:
        """Per response: its respondent's effect plus its counter-day's effect (logit scale)."""
        day = np.array([(t + LOCAL_OFFSET).toordinal() for t in sim.submitted_at], dtype=np.int64)
        _, cell = np.unique(sim.sp.astype(np.int64) * 1_000_000 + day, return_inverse=True)
        counter_day = SD_COUNTER_DAY * rng.normal(size=int(cell.max()) + 1 if len(cell) else 0)
        return SD_RESPONDENT * rng.normal(size=sim.n) + counter_day[cell.reshape(-1)]

    def _answers(self, rng: np.random.Generator, k: str, sp: np.ndarray,
                 shared: np.ndarray) -> tuple[list[str], np.ndarray]:
        items = self.scored_items(k)
        p = 1.0 / (1.0 + np.exp(-(self.logits[k][sp] + shared[:, None])))  # [response, item]
        values = np.empty(p.shape, dtype=np.int16)
        satisfied = rng.random(p.shape) < p
        pick = rng.random(p.shape)
        gap = rng.random(p.shape)
        for j, it in enumerate(items):
            sat, ps, uns, pu = scale_moments(it)
            v_sat = sat[_pick_levels(ps, shared, pick[:, j])]
            v_uns = uns[_pick_levels(pu, shared, pick[:, j])]
            col = np.where(satisfied[:, j], v_sat, v_uns)
            if not it.required:
                col = np.where(gap[:, j] < P_MISSING, -1, col)
            if it.offers_no_opinion:
                col = np.where((gap[:, j] >= P_MISSING) & (gap[:, j] < P_MISSING + P_NO_OPINION), 0, col)
            values[:, j] = col
        return [it.code for it in items], values

    def _extras(self, rng: np.random.Generator, sim: Simulated, k: str, rows: np.ndarray) -> None:
        q = self.questionnaires[k]
        multi = [it for it in q.items() if it.type == "choice" and it.multiple]
        texts = [it for it in q.items() if it.type == "text"]
        for r in rows.tolist():
            for it in multi:
                if rng.random() < P_EXPECTATIONS:
                    options = [o.value for o in it.options]
                    chosen = rng.choice(options, size=int(rng.integers(1, (it.max_choices or len(options)) + 1)),
                                        replace=False)
                    sim.choices.append((r, k, it.code, sorted(int(v) for v in chosen)))
            if texts and rng.random() < P_COMMENT:
                sim.comments.append((r, texts[0].code, COMMENTS[int(rng.integers(len(COMMENTS)))]))

    @staticmethod
    def _timestamps(rng: np.random.Generator, months: list[date], month: np.ndarray) -> list[datetime]:
        """Office hours on weekdays, local time, stored as UTC."""
        workdays = []
        for m in months:
            days, d = [], m
            while d.month == m.month:
                if d.weekday() < 5:
                    days.append(d)
                d += timedelta(days=1)
            workdays.append(days)
        span = sum(b - a for a, b in WORK_MINUTES) * 60
        day_pick = rng.random(len(month))
        second = rng.integers(0, span, len(month))
        out = []
        first_len = (WORK_MINUTES[0][1] - WORK_MINUTES[0][0]) * 60
        for mi, u, sec in zip(month.tolist(), day_pick.tolist(), second.tolist(), strict=True):
            day = workdays[mi][int(u * len(workdays[mi]))]
            start = WORK_MINUTES[0][0] * 60 + sec if sec < first_len else WORK_MINUTES[1][0] * 60 + sec - first_len
            local = datetime(day.year, day.month, day.day) + timedelta(seconds=int(start))
            out.append((local - LOCAL_OFFSET).replace(tzinfo=UTC))
        return out
