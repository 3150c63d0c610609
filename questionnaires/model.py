"""A loaded questionnaire as typed, immutable objects, plus what the web app and analysis need from it.

Built only from a definition that passed `validate.validate_dict`; the raw dict is kept as `definition`
so the web app can store exactly what was loaded and `checksum()` can tell whether a version changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, cast, overload

from .index_spec import IndexSpec
from .validate import DEFAULT_PAPI_TOTAL

Lang = Literal["vi", "en"]
ItemType = Literal["scale", "choice", "text"]
Answer = int | list[int] | str | None


@dataclass(frozen=True)
class Text:
    """A user-visible text in Vietnamese, English (Vietnamese when missing) and other languages (`extra`, e.g. km)."""

    vi: str
    en: str
    extra: tuple[tuple[str, str], ...] = ()

    def get(self, lang: str) -> str:
        """The text in `lang`; Vietnamese when that language is missing (vi is the default locale)."""
        if lang == "en":
            return self.en
        if lang == "vi":
            return self.vi
        return dict(self.extra).get(lang, self.vi)

    def __getitem__(self, lang: str) -> str:
        """`text["vi"]`, as on the raw definition; KeyError for a language the text lacks."""
        if lang in ("vi", "en"):
            return self.get(lang)
        return dict(self.extra)[lang]

    @overload
    @classmethod
    def of(cls, d: Mapping[str, str]) -> Text: ...
    @overload
    @classmethod
    def of(cls, d: None) -> None: ...
    @classmethod
    def of(cls, d: Mapping[str, str] | None) -> Text | None:
        if d is None:
            return None
        extra = tuple(sorted((k, v) for k, v in d.items() if k not in ("vi", "en")))
        return cls(vi=d["vi"], en=d.get("en") or d["vi"], extra=extra)  # a missing language is shown in vi


@dataclass(frozen=True)
class Level:
    value: int
    label: Text
    face: str | None = None


@dataclass(frozen=True)
class Scale:
    """Ordered levels (worst → best, values 1..K) and which of them count as satisfied."""

    code: str
    levels: tuple[Level, ...]
    satisfied: frozenset[int]
    no_opinion: Text | None = None
    title: Text | None = None

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(lv.value for lv in self.levels)

    @property
    def min(self) -> int:
        return min(self.values)

    @property
    def max(self) -> int:
        return max(self.values)

    def level(self, value: int) -> Level:
        for lv in self.levels:
            if lv.value == value:
                return lv
        raise KeyError(value)


@dataclass(frozen=True)
class Option:
    value: int
    label: Text


@dataclass(frozen=True)
class Item:
    """One question.  `scale` is the resolved Scale object for scale items."""

    code: str
    type: ItemType
    text: Text
    section: str
    required: bool = False
    reconstructed: bool = False
    help: Text | None = None
    scale: Scale | None = None
    options: tuple[Option, ...] = ()
    multiple: bool = False
    max_choices: int | None = None
    max_length: int | None = None

    @property
    def is_scored(self) -> bool:
        """Scale items and single-choice items: they have one numeric value (exported as one column)."""
        return self.type == "scale" or (self.type == "choice" and not self.multiple)

    @property
    def offers_no_opinion(self) -> bool:
        return self.scale is not None and self.scale.no_opinion is not None

    @property
    def values(self) -> tuple[int, ...]:
        """Valid stored values (levels or options), excluding 0 = no opinion."""
        if self.scale is not None:
            return self.scale.values
        return tuple(o.value for o in self.options)


@dataclass(frozen=True)
class Section:
    code: str
    title: Text
    items: tuple[Item, ...]
    description: Text | None = None


@dataclass(frozen=True)
class Element:
    code: str
    title: Text
    items: tuple[str, ...]


@dataclass(frozen=True)
class IndexDefinition:
    method: str
    elements: tuple[Element, ...]
    combine: Literal["mean", "weighted"]
    weights: tuple[tuple[str, float], ...] = ()
    n_min: int = 30


@dataclass(frozen=True)
class PapiIndicator:
    item: str
    score: Literal["satisfied", "mean"]


@dataclass(frozen=True)
class PapiSubdimension:
    code: str
    title: Text
    indicators: tuple[PapiIndicator, ...]


@dataclass(frozen=True)
class PapiDimension:
    code: str
    title: Text
    subdimensions: tuple[PapiSubdimension, ...]


@dataclass(frozen=True)
class Papi:
    rescaling: str
    dimensions: tuple[PapiDimension, ...]
    total_code: str = DEFAULT_PAPI_TOTAL


@dataclass(frozen=True)
class Kiosk:
    one_question_per_screen: bool = False
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Questionnaire:
    """One version of one instrument."""

    id: str
    version: int
    title: Text
    description: Text
    basis: str
    scales: Mapping[str, Scale] = field(compare=False, hash=False)
    sections: tuple[Section, ...]
    index: IndexDefinition
    notes: Text | None = None
    papi: Papi | None = None
    kiosk: Kiosk | None = None
    canonical: str = field(default="{}", compare=False, repr=False)  # canonical JSON of the definition

    # ---- items

    def items(self) -> tuple[Item, ...]:
        """All items in display order."""
        return tuple(it for s in self.sections for it in s.items)

    def item(self, code: str) -> Item:
        for it in self.items():
            if it.code == code:
                return it
        raise KeyError(code)

    def scored_items(self) -> tuple[Item, ...]:
        """Items with one numeric answer (scale and single choice), in display order: the export columns."""
        return tuple(it for it in self.items() if it.is_scored)

    def kiosk_items(self) -> tuple[Item, ...]:
        """Items a kiosk shows, in kiosk order (all items when the file does not restrict them)."""
        if self.kiosk is None or not self.kiosk.items:
            return self.items()
        return tuple(self.item(c) for c in self.kiosk.items)

    @property
    def one_question_per_screen(self) -> bool:
        return bool(self.kiosk and self.kiosk.one_question_per_screen)

    @staticmethod
    def text(obj: Any, lang: str) -> str:
        """Text of `obj` in `lang`: a Text, or an object with `.text`, `.label` or `.title` (item, level, …)."""
        return text(obj, lang)

    # ---- identity

    @property
    def definition(self) -> dict[str, Any]:
        """The raw definition as loaded (a fresh copy each time, so callers cannot alter this object)."""
        return cast(dict[str, Any], json.loads(self.canonical))

    def checksum(self) -> str:
        """sha256 of the canonical JSON definition: equal for equal content whatever the key order."""
        return hashlib.sha256(self.canonical.encode("utf-8")).hexdigest()

    @property
    def key(self) -> str:
        return f"{self.id}-v{self.version}"

    # ---- index

    def index_spec(self) -> IndexSpec:
        """Compile the index (and PAPI) definition into affine measures over ratios (docs/contracts.md §2)."""
        from .index_compile import compile_index  # compile_index reads this module's types

        return compile_index(self)


def text(obj: Any, lang: str) -> str:
    """Text of `obj` in `lang` (see Questionnaire.text)."""
    if isinstance(obj, Text):
        return obj.get(lang)
    for attr in ("text", "label", "title"):
        t = getattr(obj, attr, None)
        if isinstance(t, Text):
            return t.get(lang)
    if isinstance(obj, Mapping) and "vi" in obj:
        return str(obj.get(lang, obj["vi"]))
    raise TypeError(f"no text on {type(obj).__name__}")


def canonical_json(definition: Mapping[str, Any]) -> str:
    """Sorted keys, no whitespace, non-ASCII kept: the same text for the same content."""
    return json.dumps(definition, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def checksum(definition: Mapping[str, Any]) -> str:
    """sha256 hex digest of the canonical JSON (UTF-8) of a definition dict."""
    return hashlib.sha256(canonical_json(definition).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- building from a validated dict


def build(d: Mapping[str, Any]) -> Questionnaire:
    """Questionnaire from a definition that passed validation (no checks here)."""
    scales = {
        code: Scale(
            code=code,
            levels=tuple(Level(lv["value"], Text.of(lv["label"]), lv.get("face")) for lv in s["levels"]),
            satisfied=frozenset(s["satisfied"]),
            no_opinion=Text.of(s.get("no_opinion")),
            title=Text.of(s.get("title")),
        )
        for code, s in d["scales"].items()
    }
    sections = tuple(
        Section(
            code=s["code"],
            title=Text.of(s["title"]),
            description=Text.of(s.get("description")),
            items=tuple(_item(it, s["code"], scales) for it in s["items"]),
        )
        for s in d["sections"]
    )
    ix = d["index"]
    index = IndexDefinition(
        method=ix["method"],
        elements=tuple(Element(e["code"], Text.of(e["title"]), tuple(e["items"])) for e in ix["elements"]),
        combine=ix["overall"]["combine"],
        weights=tuple((k, float(v)) for k, v in ix["overall"].get("weights", {}).items()),
        n_min=ix.get("n_min", 30),
    )
    papi = None
    if "papi" in d:
        p = d["papi"]
        papi = Papi(
            rescaling=p["rescaling"],
            total_code=p.get("total_code", DEFAULT_PAPI_TOTAL),
            dimensions=tuple(
                PapiDimension(
                    dim["code"],
                    Text.of(dim["title"]),
                    tuple(
                        PapiSubdimension(
                            sub["code"],
                            Text.of(sub["title"]),
                            tuple(PapiIndicator(i["item"], i["score"]) for i in sub["indicators"]),
                        )
                        for sub in dim["subdimensions"]
                    ),
                )
                for dim in p["dimensions"]
            ),
        )
    kiosk = None
    if "kiosk" in d:
        kiosk = Kiosk(bool(d["kiosk"].get("one_question_per_screen", False)), tuple(d["kiosk"].get("items", ())))
    return Questionnaire(
        id=d["id"],
        version=d["version"],
        title=Text.of(d["title"]),
        description=Text.of(d["description"]),
        basis=d["basis"],
        notes=Text.of(d.get("notes")),
        scales=MappingProxyType(scales),
        sections=sections,
        index=index,
        papi=papi,
        kiosk=kiosk,
        canonical=canonical_json(d),
    )


def _item(it: Mapping[str, Any], section: str, scales: Mapping[str, Scale]) -> Item:
    return Item(
        code=it["code"],
        type=it["type"],
        text=Text.of(it["text"]),
        section=section,
        required=bool(it.get("required", False)),
        reconstructed=bool(it.get("reconstructed", False)),
        help=Text.of(it.get("help")),
        scale=scales[it["scale"]] if it["type"] == "scale" else None,
        options=tuple(Option(o["value"], Text.of(o["label"])) for o in it.get("options", ())),
        multiple=bool(it.get("multiple", False)),
        max_choices=it.get("max_choices"),
        max_length=it.get("max_length"),
    )


def iter_texts(q: Questionnaire) -> Iterable[tuple[str, Text]]:
    """(where, Text) for every user-visible text, e.g. to check a translation or render a preview."""
    yield "title", q.title
    yield "description", q.description
    for sc in q.scales.values():
        for lv in sc.levels:
            yield f"scales.{sc.code}.{lv.value}", lv.label
        if sc.no_opinion:
            yield f"scales.{sc.code}.no_opinion", sc.no_opinion
    for s in q.sections:
        yield f"sections.{s.code}", s.title
        for it in s.items:
            yield f"items.{it.code}", it.text
            for o in it.options:
                yield f"items.{it.code}#{o.value}", o.label
