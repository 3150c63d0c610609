"""Topics of citizens' comments (Vietnamese): a transparent lexicon-and-rules classifier, no model, no network.

Why rules and not a trained model: an agency must be able to see WHY a comment was put under "unofficial fees"
(the matched words are returned) and an administrator must be able to correct the lexicon without a
programmer.  The lexicon is data (`analysis/lexicons/topics-vi.yaml`, format described at its top and in
analysis/README.md); `load_lexicon(path)` reads an edited copy.

Rules, in order, per clause (the text is split at punctuation and at the words listed as `clause_breaks`):
1. Text and terms are compared after folding case and diacritics (and đ → d), word by word, so "chờ lâu",
   "CHỜ LÂU" and "cho lau" (typed on a phone without accents) all match the same term.
2. A topic's `problems` (a complaint by themselves: "cáu gắt", "chờ lâu") count for the topic, unless one of
   the `negators` stands within `negation_window` words before them ("không chờ lâu"): then they count for
   `problem_negated_topic` instead (nothing when it is empty or missing), or for praise when one of the
   `negated_problem_praise` words stands between the negator and them ("không phải chờ lâu", "không bị làm
   khó", "không hề cáu gắt") or one of `negated_problem_praise_after` follows them ("không bực mình chút nào").
   A negation does not count when a `conditionals` word follows the problem ("không đưa tiền thì không làm" is
   about fees), when a `wishes` word stands before the negator ("nên liên thông để dân không phải đi nhiều
   nơi" asks for it), or when the negator is inside an `ignore` phrase ("chưa tới <số>": "chưa tới 15 phút
   là xong" is quick).
3. A topic's `subjects` (neutral words: "thái độ", "lệ phí") count only in a clause with no praise: "thái độ
   rất tốt" is praise, "thái độ không tốt" is about attitude.
4. `praise` terms count for praise unless negated — then for the topic named in `negated` (or none) — or
   followed by a `suggestion_after` word ("nhiệt tình hơn" asks for more, it does not praise) or right after a
   `suggestion_before` word ("cho dễ hiểu"), nor in a clause
   with a problem of a topic in praise's `blocked_by` ("đưa tiền cho nhanh" is about fees, not praise).  With
   `suggestion_topic: true` such a suggestion counts for the topic its term names under `negated` ("cần
   mềm mỏng hơn" is about attitude).
5. The longest phrase wins: a term inside a longer matched phrase ("nhanh" in "làm nhanh") is not counted.
   An `ignore` phrase counts for nothing but still hides the words inside it ("miễn phí" is not a fee).
Function words (negators, clause breaks, suggestion words) are compared as written: "cho" (for) in
`suggestion_before` is not "chờ" (wait) in a text typed with accents; in a text typed without any, it is.
Two placeholders make a phrase cover wordings it was not given verbatim (never as its first word): `<số>` is
any number, in digits or words ("chờ <số> tiếng": "chờ 3 tiếng", "chờ mấy tiếng"), and `*` is up to three
words of any kind ("hẹn * nhiều lần": "hẹn trả kết quả nhiều lần").
Word classes make one phrase cover a family of wordings: `classes` names lists of words or phrases and a
phrase refers to one as `<name>` ("<chờ> <số> <lâu>" covers "đợi 3 tiếng", "ngồi chờ mấy ngày"; a class may
begin a phrase).  `aliases` rewrite a word before matching: abbreviations typed on phones ("ko", "dc", "cb")
and regional words ("hư" → "hỏng", "mắc" → "đắt"), so every phrase covers them without being typed again.
`ambiguous_unaccented` lists folded forms too ambiguous to stand for a ONE-word phrase in a text typed
without accents ("ban" may be "bẩn", "bàn", "bạn" or "bán"; "hong" "hỏng" or "hổng"): such a phrase then
needs its accents; longer phrases still match ("phong cho ban" → "phòng chờ bẩn").
Telex keys left in a word ("chowf laau quas") are dropped before matching (`untelex`), and a number glued to its
unit ("30k", "2tr", "8h15") is read as the number and the unit ("30 nghìn", "8 giờ 15").  Emoji and other
symbols are no words: the lexicon's `symbols` say which word(s) to read for one or a run of them ("👍": "like",
"⭐⭐⭐⭐⭐": "5 sao"); others are dropped.
A comment with one of the `irony_markers` and a complaint gets no praise: "Nhanh ghê, mới có ba tiếng là tới
lượt tui" is sarcasm.  A text counts as typed without accents when fewer than half of its words carry one
("nhan vien thai đô ko tôt").
A comment gets every topic found (several or none).

Learned layer (optional, data too): when the lexicon names `learned_weights` (a TSV file next to it, else the
shipped one in analysis/lexicons/), each topic with weights is decided by a score: its `(bias)` line plus the
weights of the comment's terms (folded words and word pairs of `features`, a word within NEGATION_SCOPE words
after a negator written "~word", the lexicon's word classes found in it, "<che>") and of the rules' findings
(`@waiting`: the rules found waiting), ≥ 0.  So a
rule hit is strong evidence that other words can outweigh ("phòng chờ" beside heat and chairs is about the room),
and a topic can be found without one.  A topic whose weights have no `@topic` line keeps its rule hits whatever
the score (rules OR score).  The weights were learned by logistic regression on the labelled rounds
(tools/learn_topic_weights.py, analysis/topics_learn.py); `explain` names the terms that counted (rule
"learned") and keeps an outweighed rule match with the rule "outweighed", so the page still shows why.  Irony
vetoes learned praise as it vetoes rule praise.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

DEFAULT_LEXICON = Path(__file__).parent / "lexicons" / "topics-vi.yaml"
BIAS = "(bias)"
RULE = "@"  # a learned term "@waiting": the rules found waiting in the comment
OUTWEIGHED = "outweighed"  # a rule's match the learned weights overruled: shown by explain, not counted
NEGATED = "~"
NEGATION_SCOPE = 3  # words after a negator marked as negated features ("không phải chờ lâu": ~phai ~cho ~lau)
LEARNED_SHOWN = 3  # terms named as the reason of a learned topic
PRAISE = "praise"
IGNORE = "ignore"
_CLAUSE = re.compile(r"[.,;:!?\n\r()\[\]\"“”…/+-]+")
_WORD = re.compile(r"<[^<>\s]+>|[^\W_]+|\*")
NUMBER = "<so>"
GAP = "*"
GAP_MAX = 3


def fold(text: str) -> str:
    """Lower case without diacritics (đ → d), so accented and unaccented spellings compare equal."""
    text = unicodedata.normalize("NFD", text.lower().replace("đ", "d").replace("Đ", "d"))
    return "".join(ch for ch in text if unicodedata.category(ch) != "Mn")


#: number words (folded) that `<số>` matches besides digits; "năm" (five/year) is left out on purpose
_NUMBER_WORDS = frozenset(fold(w) for w in ("một", "hai", "ba", "bốn", "sáu", "bảy", "tám", "chín", "mười", "mươi",
                                            "mấy", "vài", "dăm", "nửa", "chục"))


@dataclass(frozen=True)
class Word:
    """A word as written (lower case, NFC) and folded.  In a text typed with accents a word must match a term's
    accented form ("chỗ" and "cho" are not "chờ"); in a text typed without any ("cho"), the folded form."""

    exact: str
    folded: str
    plain: bool  # the text was typed (mostly) without accents: see is_plain

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Word):
            return NotImplemented
        if self.plain or other.plain:
            return self.folded == other.folded
        return self.exact == other.exact

    def __hash__(self) -> int:
        return hash(self.folded)


def is_plain(text: str) -> bool:
    """Typed (mostly) without accents: fewer than half of its words carry a diacritic.  Why not "none": a phone
    user who types "nhan vien thai đô ko tôt" left most accents out, and the accented few must not make the
    rest compare as written (accented Vietnamese has 60-100 % of its words accented)."""
    ws = [w for w in _WORD.findall(text.lower()) if w.isalpha()]
    return 2 * sum(fold(w) != w for w in ws) < len(ws) or not ws


def words(text: str, plain: bool | None = None) -> tuple[Word, ...]:
    text = unicodedata.normalize("NFC", text.lower())
    if plain is None:
        plain = is_plain(text)
    return tuple(Word(w, fold(w), plain) for w in _WORD.findall(text))


def _is_class(w: Word) -> bool:
    return w.folded.startswith("<") and w.folded.endswith(">") and w.folded != NUMBER


@dataclass(frozen=True)
class Topic:
    code: str
    labels: Mapping[str, str]
    problems: tuple[tuple[Word, ...], ...] = ()
    subjects: tuple[tuple[Word, ...], ...] = ()

    def label(self, lang: str) -> str:
        return self.labels.get(lang) or self.labels.get("vi") or self.code


@dataclass(frozen=True)
class Match:
    """One piece of evidence: `term` (as written in the lexicon, folded) counted for `topic` by `rule`."""

    topic: str
    term: str
    rule: str  # problem | negated-problem | subject | praise | negated-praise | suggestion | learned | outweighed


@dataclass(frozen=True, eq=False)
class Weights:
    """Learned term weights per topic (`topic → term → weight`, `(bias)` the topic's constant, its decision
    threshold folded in): a comment gets the topic when the weights of its `features` and the bias sum to ≥ 0."""

    terms: Mapping[str, Mapping[str, float]]

    def score(self, topic: str, feats: frozenset[str]) -> float:
        w = self.terms.get(topic, {})
        return w.get(BIAS, 0.0) + sum(w.get(f, 0.0) for f in feats)

    def stacked(self, topic: str) -> bool:
        """Does the topic weigh the rules' findings (an `@topic` line)?  Then the score alone decides; else a
        rule hit gives the topic whatever the score (rules OR score, the weights file of 7 Dec 2026)."""
        return RULE + topic in self.terms.get(topic, {})

    def decide(self, topic: str, feats: frozenset[str], rule_topics: Iterable[str]) -> bool:
        """The topic, given the comment's `features` and the topics the rules found in it."""
        found = frozenset(rule_topics)
        if topic not in self.terms:
            return topic in found
        if not self.stacked(topic) and topic in found:
            return True
        return self.score(topic, feats | frozenset(RULE + t for t in found)) >= 0

    def reasons(self, topic: str, feats: frozenset[str]) -> list[str]:
        """The comment's terms that pushed most for the topic (largest weight first)."""
        w = self.terms.get(topic, {})
        return sorted((f for f in feats if w.get(f, 0.0) > 0), key=lambda f: (-w[f], f))[:LEARNED_SHOWN]


class WeightsError(ValueError):
    """The learned weights file is not `topic<TAB>term<TAB>weight` lines (the message says where)."""


def read_weights(path: str | Path, codes: Iterable[str] | None = None) -> Weights:
    """A weights file (`topic<TAB>term<TAB>weight`, `#` notes); unknown topics are an error when `codes` is given."""
    known = set(codes) if codes is not None else None
    terms: dict[str, dict[str, float]] = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        try:
            topic, term, weight = parts[0].strip(), parts[1].strip(), float(parts[2])
        except (IndexError, ValueError) as exc:
            raise WeightsError(f"{path}:{n}: expected topic<TAB>term<TAB>weight") from exc
        if len(parts) != 3 or not term or not math.isfinite(weight):
            raise WeightsError(f"{path}:{n}: expected topic<TAB>term<TAB>weight")
        if known is not None and topic not in known:
            raise WeightsError(f"{path}:{n}: unknown topic '{topic}'")
        terms.setdefault(topic, {})[term if term == BIAS else _feature_key(term)] = weight
    return Weights(terms)


def write_weights(path: str | Path, weights: Weights, header: str = "") -> None:
    """Sorted by topic, then largest weight first (the bias line first), so a reader sees what counts most."""
    lines = [f"# {h}" if h else "#" for h in header.splitlines()]
    for topic in sorted(weights.terms):
        w = weights.terms[topic]
        for term in sorted(w, key=lambda t: (t != BIAS, -w[t], t)):
            lines.append(f"{topic}\t{term}\t{w[term]:.3f}")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _feature_key(term: str) -> str:
    """A term as an administrator may type it ("Chờ lâu", "~chờ") in the folded form `features` produces."""
    return " ".join((NEGATED if w.startswith(NEGATED) else "") + fold(w.lstrip(NEGATED)) for w in term.split())


@dataclass(frozen=True, eq=False)
class Lexicon:
    topics: tuple[Topic, ...]
    praise: tuple[tuple[Word, ...], ...]
    praise_negated: Mapping[tuple[Word, ...], str | None]
    negators: tuple[Word, ...]
    negation_window: int = 2
    problem_negated_topic: str | None = None
    clause_breaks: tuple[Word, ...] = ()
    suggestion_after: tuple[Word, ...] = ()
    praise_blocked_by: frozenset[str] = frozenset()
    suggestion_before: tuple[Word, ...] = ()
    ignore: tuple[tuple[Word, ...], ...] = ()
    classes: Mapping[str, tuple[tuple[Word, ...], ...]] = field(default_factory=dict)
    aliases: Mapping[Word, tuple[Word, ...]] = field(default_factory=dict)  # typed word -> standard word(s)
    ambiguous_unaccented: frozenset[str] = frozenset()
    conditionals: tuple[Word, ...] = ()
    negated_problem_praise: tuple[Word, ...] = ()
    negated_problem_praise_after: tuple[Word, ...] = ()
    wishes: tuple[Word, ...] = ()
    suggestion_topic: bool = False
    irony_markers: tuple[tuple[Word, ...], ...] = ()
    learned: Weights | None = None
    symbols: tuple[tuple[str, str], ...] = ()  # (emoji or symbol run, the word(s) read for it), longest first

    @cached_property
    def _index(self) -> dict[str, list[tuple[str, tuple[Word, ...]]]]:
        """(kind, term) by the folded first word: a comment is scanned once, not once per term."""
        index: dict[str, list[tuple[str, tuple[Word, ...]]]] = {}
        entries = [(PRAISE, t) for t in self.praise] + [(IGNORE, t) for t in self.ignore] + [
            (f"{kind}:{topic.code}", term) for topic in self.topics
            for kind, terms in (("problem", topic.problems), ("subject", topic.subjects)) for term in terms]
        for kind, term in entries:
            heads = {m[0].folded for m in self.classes[term[0].folded]} if _is_class(term[0]) else {term[0].folded}
            for head in heads:
                index.setdefault(head, []).append((kind, term))
        return index

    @cached_property
    def _class_heads(self) -> dict[str, list[tuple[str, tuple[Word, ...]]]]:
        """(class name, member) by the member's folded first word, for the learned layer's class features."""
        heads: dict[str, list[tuple[str, tuple[Word, ...]]]] = {}
        for name, members in self.classes.items():
            for m in members:
                heads.setdefault(m[0].folded, []).append((name, m))
        return heads

    @cached_property
    def vocabulary(self) -> frozenset[str]:
        """Every folded word the lexicon writes (so "good" or "facebook" is never read as Telex)."""
        phrases = [t for ts in self.classes.values() for t in ts] + [t for _k, ts in self._index.items()
                                                                     for _kind, t in ts]
        return frozenset(w.folded for t in phrases for w in t) | {w.folded for w in self.aliases}

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(t.code for t in self.topics)

    def topic(self, code: str) -> Topic | None:
        return next((t for t in self.topics if t.code == code), None)


class LexiconError(ValueError):
    """The lexicon file is not in the documented format (the message says where)."""


def _terms(raw: Any, where: str, classes: Mapping[str, Any] | None = None) -> tuple[tuple[Word, ...], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(t, str) and words(t) for t in raw):
        raise LexiconError(f"{where}: expected a list of words or phrases")
    for t in raw:
        if words(t)[0].folded in (NUMBER, GAP) or words(t)[-1].folded == GAP:
            raise LexiconError(f"{where}: '{t}': a phrase cannot begin with '<số>' or '*' nor end with '*'")
        unknown = [w.exact for w in words(t) if _is_class(w) and w.folded not in (classes or {})]
        if unknown:
            raise LexiconError(f"{where}: '{t}': unknown class {unknown[0]} (not in 'classes')")
    return tuple(words(t) for t in raw)


def _classes(raw: Any) -> dict[str, tuple[tuple[Word, ...], ...]]:
    """`classes: {name: [words or phrases]}`, referred to as `<name>`; members cannot use classes themselves."""
    if not isinstance(raw, dict):
        raise LexiconError("classes: expected 'name: [words or phrases]' lines")
    out: dict[str, tuple[tuple[Word, ...], ...]] = {}
    for name, members in raw.items():
        terms = _terms(members, f"classes.{name}")
        if not terms or not re.fullmatch(r"[^<>\s*]+", str(name)):
            raise LexiconError(f"classes.{name}: a one-word name and a non-empty list")
        if any(w.folded.startswith("<") or w.folded == GAP for t in terms for w in t):
            raise LexiconError(f"classes.{name}: members are plain words (no <class>, <số> or *)")
        out[fold(str(name)).join("<>")] = terms
    return out


def _aliases(raw: Any) -> dict[Word, tuple[Word, ...]]:
    """`aliases: {typed word: standard word(s)}` ("ko: không", "hư: hỏng"), keys compared like text words."""
    if not isinstance(raw, dict) or not all(isinstance(v, str) and words(v) for v in raw.values()):
        raise LexiconError("aliases: expected 'typed word: standard word(s)' lines")
    out: dict[Word, tuple[Word, ...]] = {}
    for typed, standard in raw.items():
        if len(words(str(typed))) != 1:
            raise LexiconError(f"aliases: '{typed}': one typed word per line")
        out[words(str(typed), plain=False)[0]] = words(standard, plain=False)
    return out


def parse_lexicon(data: Any, learned: Weights | None = None) -> Lexicon:
    """Check and compile a lexicon (the parsed YAML; `learned`: its weights, read by load_lexicon);
    LexiconError says what is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("topics"), list) or not data["topics"]:
        raise LexiconError("the file needs a non-empty 'topics' list")
    topics: list[Topic] = []
    praise: tuple[tuple[Word, ...], ...] = ()
    praise_negated: dict[tuple[Word, ...], str | None] = {}
    blocked: frozenset[str] = frozenset()
    classes = _classes(data.get("classes") or {})
    for i, t in enumerate(data["topics"]):
        if not isinstance(t, dict) or not isinstance(t.get("code"), str) or not re.fullmatch(r"[a-z_]+", t["code"]):
            raise LexiconError(f"topics[{i}]: needs a 'code' of lower-case letters")
        labels = t.get("label") or {}
        if not isinstance(labels, dict) or not isinstance(labels.get("vi"), str):
            raise LexiconError(f"topic {t['code']}: needs 'label' with at least 'vi'")
        if t["code"] == PRAISE:
            praise = _terms(t.get("terms"), f"topic {PRAISE}.terms", classes)
            neg = t.get("negated") or {}
            if not isinstance(neg, dict):
                raise LexiconError(f"topic {PRAISE}.negated: expected 'phrase: topic code' lines")
            praise_negated = {words(k): v for k, v in neg.items()}
            blocked = frozenset(t.get("blocked_by") or [])
        topics.append(Topic(t["code"], dict(labels), _terms(t.get("problems"), f"topic {t['code']}.problems", classes),
                            _terms(t.get("subjects"), f"topic {t['code']}.subjects", classes)))
    codes = {t.code for t in topics}
    if len(codes) != len(topics):
        raise LexiconError("two topics have the same code")
    for phrase, target in praise_negated.items():
        if target is not None and target not in codes:
            raise LexiconError(f"praise.negated '{_text(phrase)}': unknown topic '{target}'")
    negated_topic = data.get("problem_negated_topic") or None
    if negated_topic is not None and negated_topic not in codes:
        raise LexiconError(f"problem_negated_topic: unknown topic '{negated_topic}'")
    window = data.get("negation_window", 2)
    if not isinstance(window, int) or not 0 <= window <= 5:
        raise LexiconError("negation_window: a whole number from 0 to 5")
    return Lexicon(tuple(topics), praise, praise_negated, _function_words(data, "negators"), window,
                   negated_topic, _function_words(data, "clause_breaks"),
                   _function_words(data, "suggestion_after"), blocked, _function_words(data, "suggestion_before"),
                   _terms(data.get("ignore"), "ignore", classes), classes, _aliases(data.get("aliases") or {}),
                   frozenset(fold(str(w)) for w in data.get("ambiguous_unaccented") or []),
                   _function_words(data, "conditionals"), _function_words(data, "negated_problem_praise"),
                   _function_words(data, "negated_problem_praise_after"), _function_words(data, "wishes"),
                   bool(data.get("suggestion_topic")), _terms(data.get("irony_markers"), "irony_markers"), learned,
                   _symbols(data.get("symbols") or {}))


_VARIATION = "\ufe0f"  # emoji presentation selector ("❤️" is "❤" + it): ignored in text and in `symbols` keys


def _symbols(raw: Any) -> tuple[tuple[str, str], ...]:
    """`symbols: {emoji or run of them: word(s)}` ("👍": like, "⭐⭐⭐⭐⭐": 5 sao), longest key first so a run is
    read before its single symbol.  Keys are not words (emoji are dropped by the tokeniser otherwise)."""
    if not isinstance(raw, dict) or not all(isinstance(v, str) and words(v) for v in raw.values()):
        raise LexiconError("symbols: expected 'symbol: word(s)' lines")
    out = []
    for sym, word in raw.items():
        key = str(sym).replace(_VARIATION, "").strip()
        if not key or _WORD.search(key):
            raise LexiconError(f"symbols: '{sym}': a symbol or emoji (no letters or digits)")
        out.append((key, word))
    return tuple(sorted(out, key=lambda kv: -len(kv[0])))


def _function_words(data: dict[str, Any], key: str) -> tuple[Word, ...]:
    """Short words compared as written (never `plain`): an unaccented "cho" must not match "chờ"."""
    return tuple(w for t in data.get(key) or [] for w in words(str(t), plain=False))


def load_lexicon(path: str | Path = DEFAULT_LEXICON) -> Lexicon:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise LexiconError(f"not valid YAML: {exc}") from exc
    name = data.get("learned_weights") if isinstance(data, dict) else None
    if not name:
        return parse_lexicon(data)
    if not isinstance(name, str) or Path(name).name != name:
        raise LexiconError("learned_weights: a file name (in the lexicon's folder or analysis/lexicons/)")
    own = Path(path).parent / name
    codes = [str(t.get("code")) for t in data.get("topics") or [] if isinstance(t, dict)]
    try:
        learned = read_weights(own if own.is_file() else DEFAULT_LEXICON.parent / name, codes)
    except (OSError, WeightsError) as exc:
        raise LexiconError(f"learned_weights: {exc}") from exc
    return parse_lexicon(data, learned)


_TELEX_TONE = re.compile(r"(?<=[aeiouy])(c|ch|m|n|ng|nh|p|t)?[sfrxj]$")
_TELEX_MARK = re.compile(r"aa|aw|ee|oo|ow|uw|dd")


def untelex(word: str) -> str:
    """A folded word with Telex keys left in it (typed on a keyboard without the Vietnamese input method:
    "chowf", "laau", "tieengs", "booj") without them: "cho", "lau", "tieng", "bo".  No Vietnamese word has a
    doubled vowel key or ends in s, f, r, x or j, so other words are unchanged."""
    word = _TELEX_TONE.sub(lambda m: m.group(1) or "", word)
    return _TELEX_MARK.sub(lambda m: m.group(0)[0], word)


_UNIT = re.compile(r"(\d+)(k|tr|h|g|p)(\d*)")
_UNIT_WORDS = {"k": "nghìn", "tr": "triệu", "h": "giờ", "g": "giờ", "p": "phút"}


def _units(w: Word) -> tuple[Word, ...]:
    """A number glued to its unit as typed on phones ("30k", "2tr", "8h15", "6g45") as separate words ("30 nghìn",
    "8 giờ 15"), so "<số>" phrases and the learned layer see the amount or the time."""
    m = _UNIT.fullmatch(w.folded)
    if m is None:
        return (w,)
    unit = _UNIT_WORDS[m.group(2)]
    return (Word(m.group(1), m.group(1), w.plain), Word(unit, fold(unit), w.plain),
            *((Word(m.group(3), m.group(3), w.plain),) if m.group(3) else ()))


def _clauses(text: str, lex: Lexicon) -> list[tuple[Word, ...]]:
    out: list[tuple[Word, ...]] = []
    plain = is_plain(text)
    breaks = lex.clause_breaks
    text = text.replace("<", " ").replace(">", " ")
    if lex.symbols:
        text = text.replace(_VARIATION, "")
        for sym, word in lex.symbols:
            text = text.replace(sym, f" {word} ")
    for part in _CLAUSE.split(text):
        cur: list[Word] = []
        typed = [w if w.folded in lex.vocabulary or (u := untelex(w.folded)) == w.folded else Word(u, u, True)
                 for w in words(part, plain)]
        expanded = [Word(a.exact, a.folded, w.plain) for w in typed for u in _units(w)
                    for a in lex.aliases.get(u, (u,))]
        for w in expanded:
            if w in breaks and cur:
                out.append(tuple(cur))
                cur = []
            elif w not in breaks:
                cur.append(w)
        if cur:
            out.append(tuple(cur))
    return out


def _is_number(w: Word) -> bool:
    return w.folded.isdigit() or w.folded in _NUMBER_WORDS


def _match(lex: Lexicon, clause: tuple[Word, ...], i: int, term: tuple[Word, ...]) -> int | None:
    """The end of `term` matched at clause[i] (placeholders `<số>`, `<class>` and `*` included), or None."""
    if not term:
        return i
    head, rest = term[0], term[1:]
    if head.folded == GAP:  # never across a negator: "cán bộ không hề cáu gắt" is not "cán bộ * gắt"
        skips = next((k for k in range(GAP_MAX + 1) if i + k >= len(clause) or clause[i + k] in lex.negators), GAP_MAX)
        return next((end for skip in range(skips + 1) if (end := _match(lex, clause, i + skip, rest)) is not None),
                    None)
    if _is_class(head):
        ends = [end for m in lex.classes[head.folded] if (end := _match(lex, clause, i, m + rest)) is not None]
        return max(ends, default=None)
    if i >= len(clause) or not (_is_number(clause[i]) if head.folded == NUMBER else clause[i] == head):
        return None
    return _match(lex, clause, i + 1, rest)


def _found(lex: Lexicon, clause: tuple[Word, ...], i: int, term: tuple[Word, ...]) -> int | None:
    """`_match`, except that a one-word phrase does not match an ambiguous unaccented word ("ban" ≠ "bẩn")."""
    w = clause[i]
    if len(term) == 1 and not _is_class(term[0]) and w.plain and w.folded in lex.ambiguous_unaccented:
        return None
    return _match(lex, clause, i, term)


def _negator(lex: Lexicon, clause: tuple[Word, ...], start: int, hidden: frozenset[int] = frozenset()) -> int | None:
    """Where the negator of the phrase at `start` stands (None: not negated).  A negator inside an `ignore`
    phrase does not negate ("chưa tới 15 phút là xong" is quick, not "not quick")."""
    return next((k for k in range(start - 1, max(0, start - lex.negation_window) - 1, -1)
                 if clause[k] in lex.negators and k not in hidden), None)


def _negated(lex: Lexicon, clause: tuple[Word, ...], start: int, hidden: frozenset[int] = frozenset()) -> bool:
    return _negator(lex, clause, start, hidden) is not None


def _negated_problem(lex: Lexicon, clause: tuple[Word, ...], start: int, end: int,
                     hidden: frozenset[int]) -> str | None:
    """What a problem phrase counts for: its own topic (""), nothing (None) or a topic code, by the negation rules."""
    neg = _negator(lex, clause, start, hidden)
    if (neg is None or any(w in lex.conditionals for w in clause[end:])
            or any(w in lex.wishes for w in clause[:neg])):
        return ""  # not negated; a condition ("không đưa tiền thì không làm"); a wish ("nên … để dân không phải …")
    if (any(w in lex.negated_problem_praise for w in clause[neg + 1:start])
            or any(w in lex.negated_problem_praise_after for w in clause[end:])):
        return PRAISE  # "không bị làm khó", "không hề cáu gắt", "không bực mình chút nào"
    return lex.problem_negated_topic


def _text(term: tuple[Word, ...]) -> str:
    return " ".join(w.exact for w in term)


def explain(text: str, lex: Lexicon) -> list[Match]:
    """Every piece of evidence found in `text` (the classifier's reasons, for the page and for tuning): the
    rules' matches, then for a topic the rules did not find but the learned weights give, the terms that
    weighed most (rule "learned").  A rule's match the learned weights outweigh stays in the list with the rule
    "outweighed" (shown, not counted: `classify` skips it)."""
    out = explain_rules(text, lex)
    if lex.learned is None:
        return out
    found = {m.topic for m in out}
    feats = features(text, lex)
    terms = feats | frozenset(RULE + t for t in found)
    ironic = any(m.rule == "problem" for m in out) and is_ironic(text, lex)
    kept: list[Match] = []
    for code in lex.codes:
        own = [m for m in out if m.topic == code]
        if code == PRAISE and ironic:
            kept += own
        elif lex.learned.decide(code, feats, found):
            kept += own or [Match(code, term, "learned") for term in lex.learned.reasons(code, terms) or [BIAS]]
        else:
            kept += [Match(code, m.term, OUTWEIGHED) for m in own]
    return kept


def features(text: str, lex: Lexicon) -> frozenset[str]:
    """The terms the learned weights are written for: the folded words of each clause (after aliases and Telex,
    as the rules see them; digits as <so>) and each pair of neighbours; a word up to NEGATION_SCOPE words
    after a negator is marked "~" ("không chờ lâu": khong, ~cho, ~lau, "khong ~cho", "~cho ~lau").  Each member
    of a lexicon word class found in a clause also gives the class ("<che>" for "cau có", "~<che>" negated), alone
    and paired with its neighbours ("<can_bo> gat"): what the weights learn of a class then holds for every word
    an administrator lists in it, written by a writer the weights never read."""
    out: set[str] = set()
    for clause in _clauses(text, lex):
        toks: list[str] = []
        left = 0
        for w in clause:
            tok = NUMBER if w.folded.isdigit() else w.folded
            if w in lex.negators:
                toks.append(tok)
                left = NEGATION_SCOPE
                continue
            toks.append(NEGATED + tok if left else tok)
            left = max(0, left - 1)
        out.update(toks)
        out.update(f"{a} {b}" for a, b in itertools.pairwise(toks))
        for i, w in enumerate(clause):
            for name, member in lex._class_heads.get(w.folded, ()):
                end = _match(lex, clause, i, member)
                if end is None:
                    continue
                tok = (NEGATED if toks[i].startswith(NEGATED) else "") + name
                out.add(tok)
                if i:
                    out.add(f"{toks[i - 1]} {tok}")
                if end < len(toks):
                    out.add(f"{tok} {toks[end]}")
    return frozenset(out)


def explain_rules(text: str, lex: Lexicon) -> list[Match]:
    """The lexicon rules' evidence only (what `explain` gives without learned weights)."""
    out: list[Match] = []
    for clause in _clauses(text, lex):
        first = len(out)
        found: list[tuple[int, int, str, tuple[Word, ...]]] = []  # (start, end, kind:topic, term)
        for i, w in enumerate(clause):
            found += [(i, end, kind, term) for kind, term in lex._index.get(w.folded, ())
                      if (end := _found(lex, clause, i, term)) is not None]
        # the longest phrase wins: "làm nhanh" (fees) hides "nhanh" (praise), "phòng chờ" hides "chờ"
        found = [f for f in found if not any(g[0] <= f[0] and f[1] <= g[1] and g[1] - g[0] > f[1] - f[0]
                                             for g in found)]
        hidden = frozenset(k for s, e, kind, _t in found if kind == IGNORE for k in range(s, e))
        problems = [(s, kind[8:], term, _negated_problem(lex, clause, s, e, hidden))
                    for s, e, kind, term in found if kind.startswith("problem:")]
        blocked = any(topic in lex.praise_blocked_by and target == "" for _s, topic, _t, target in problems)
        for start, end, kind, term in found:
            if kind != PRAISE or blocked:
                continue
            if _negated(lex, clause, start, hidden):
                target = lex.praise_negated.get(term)
                if target:
                    out.append(Match(target, _text(term), "negated-praise"))
            elif not ((end < len(clause) and clause[end] in lex.suggestion_after)
                      or (start > 0 and clause[start - 1] in lex.suggestion_before)):
                out.append(Match(PRAISE, _text(term), "praise"))
            elif lex.suggestion_topic and (target := lex.praise_negated.get(term)):
                out.append(Match(target, _text(term), "suggestion"))  # "cần nhiệt tình hơn" asks about attitude
        for _start, topic, term, target in problems:
            if target is not None:
                out.append(Match(target or topic, _text(term), "negated-problem" if target else "problem"))
        praised = any(m.topic == PRAISE for m in out[first:])
        out += [Match(kind[8:], _text(term), "subject") for _s, _e, kind, term in found
                if kind.startswith("subject:") and not praised]
    if any(m.rule == "problem" for m in out) and is_ironic(text, lex):
        return [m for m in out if m.topic != PRAISE]
    return out


def is_ironic(text: str, lex: Lexicon) -> bool:
    """An irony marker anywhere in the comment ("Nhanh ghê, mới có ba tiếng đồng hồ là tới lượt tui")."""
    return any(_match(lex, clause, i, marker) is not None
               for clause in _clauses(text, lex) for i in range(len(clause)) for marker in lex.irony_markers)


def classify(text: str, lex: Lexicon) -> frozenset[str]:
    """The topics of one comment: several or none."""
    return frozenset(m.topic for m in explain(text, lex) if m.rule != OUTWEIGHED)


def evaluate(rows: Iterable[tuple[str, frozenset[str]]], lex: Lexicon) -> dict[str, dict[str, float]]:
    """Per topic: support (labelled examples), true/false positives, precision and recall (NaN when undefined)."""
    stats = {c: {"support": 0, "tp": 0, "fp": 0, "fn": 0} for c in lex.codes}
    for text, truth in rows:
        got = classify(text, lex)
        for c in lex.codes:
            stats[c]["support"] += c in truth
            stats[c]["tp"] += c in truth and c in got
            stats[c]["fp"] += c in got and c not in truth
            stats[c]["fn"] += c in truth and c not in got
    out: dict[str, dict[str, float]] = {}
    for c, s in stats.items():
        p_den, r_den = s["tp"] + s["fp"], s["tp"] + s["fn"]
        out[c] = {**{k: float(v) for k, v in s.items()},
                  "precision": s["tp"] / p_den if p_den else float("nan"),
                  "recall": s["tp"] / r_den if r_den else float("nan")}
    return out


def read_labelled(path: str | Path) -> list[tuple[str, frozenset[str]]]:
    """A labelled comment file (tests/data/comments-topics-*.tsv): `topics<TAB>text` lines, `#` notes."""
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if "\t" not in line:
            raise ValueError(f"{path}:{n}: expected topics<TAB>text")
        labels, text = line.split("\t", 1)
        rows.append((text, frozenset(x.strip() for x in labels.split(",") if x.strip())))
    return rows


# --------------------------------------------------------------------------- command line
def register_cli(sub: Any) -> None:
    """`python -m analysis topics check [FILE]` and `topics classify TEXT… [--lexicon FILE]`."""
    p = sub.add_parser("topics", help="comment topics: check an edited lexicon, classify a text")
    p.add_argument("action", choices=("check", "classify"))
    p.add_argument("args", nargs="*", help="check: the lexicon file; classify: the comment text(s)")
    p.add_argument("--lexicon", default=str(DEFAULT_LEXICON))
    p.set_defaults(func=_run)


def _run(args: Any) -> int:
    from analysis.cli import UsageError

    path = args.args[0] if args.action == "check" and args.args else args.lexicon
    try:
        lex = load_lexicon(path)
    except (OSError, LexiconError) as exc:
        raise UsageError(f"{path}: {exc}") from exc
    if args.action == "check":
        print(f"{path}: OK, {len(lex.codes)} topics: " + ", ".join(
            f"{t.code} ({len(t.problems) + len(t.subjects) + (len(lex.praise) if t.code == PRAISE else 0)} terms)"
            for t in lex.topics))
        return 0
    for text in args.args:
        found = explain(text, lex)
        topics = sorted({m.topic for m in found})
        print(f"{', '.join(topics) or '-'}\t{text}")
        for m in found:
            print(f"    {m.topic}: '{m.term}' ({m.rule})")
    return 0


# --------------------------------------------------------------------------- change between two periods
@dataclass(frozen=True)
class Rise:
    """A topic whose share of comments went up from one period to the next."""

    topic: str
    n_before: int
    total_before: int
    n_now: int
    total_now: int

    @property
    def share_before(self) -> float:
        return self.n_before / self.total_before if self.total_before else 0.0

    @property
    def share_now(self) -> float:
        return self.n_now / self.total_now if self.total_now else 0.0

    @property
    def points(self) -> float:
        """Change in share, as a proportion (0.05 = 5 percentage points)."""
        return self.share_now - self.share_before


def rising(before: tuple[int, Mapping[str, int]], now: tuple[int, Mapping[str, int]], min_count: int = 3,
           min_points: float = 0.05) -> list[Rise]:
    """Topics whose share of comments rose by at least `min_points` with at least `min_count` comments now
    (largest rise first).  Why both: with a handful of comments one more complaint moves a share by a lot;
    this is a flag to read the comments, not a test of significance.  Nothing rises from a period with no
    comments: its shares are undefined, not zero."""
    if not before[0]:
        return []
    out = [Rise(code, before[1].get(code, 0), before[0], n, now[0]) for code, n in now[1].items()]
    return sorted((r for r in out if r.n_now >= min_count and r.points >= min_points - 1e-12),
                  key=lambda r: (-r.points, r.topic))
