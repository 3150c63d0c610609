"""The Cần Thơ demo trees: 2022 (city → 9 districts → communes) and 2025 (city → communes).

Written as an org-file document (docs/org-file-format.md) and loaded through the ordinary importer, so the
demo also exercises the import rules.  Commune names of 2022 are real units of that time; the 2025 names
are post-July-2025 units as we know them, NOT checked against the text of the National Assembly Standing
Committee's resolution on Cần Thơ's commune-level units — see docs/demo-model.md.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

CITY = ("CT", "Thành phố Cần Thơ", "Can Tho City")
CENTRE_VI = "Trung tâm Phục vụ hành chính công thành phố Cần Thơ"
CENTRE_EN = "Can Tho City Public Administration Service Centre"

# 2022: district code, kind ("Quận" urban / "Huyện" rural), name, [(commune kind, name), …]
DISTRICTS_2022: list[tuple[str, str, str, list[tuple[str, str]]]] = [
    ("NK", "Quận", "Ninh Kiều", [("Phường", "Tân An"), ("Phường", "An Hòa"), ("Phường", "Cái Khế"),
                                  ("Phường", "Xuân Khánh"), ("Phường", "Hưng Lợi")]),
    ("BT", "Quận", "Bình Thủy", [("Phường", "Bình Thủy"), ("Phường", "Trà An"), ("Phường", "Long Hòa"),
                                  ("Phường", "An Thới")]),
    ("CR", "Quận", "Cái Răng", [("Phường", "Lê Bình"), ("Phường", "Hưng Phú"), ("Phường", "Ba Láng"),
                                 ("Phường", "Phú Thứ")]),
    ("OM", "Quận", "Ô Môn", [("Phường", "Châu Văn Liêm"), ("Phường", "Thới Hòa"), ("Phường", "Phước Thới"),
                              ("Phường", "Trường Lạc")]),
    ("TN", "Quận", "Thốt Nốt", [("Phường", "Thốt Nốt"), ("Phường", "Trung Kiên"), ("Phường", "Thuận Hưng"),
                                 ("Phường", "Tân Lộc")]),
    ("PD", "Huyện", "Phong Điền", [("Thị trấn", "Phong Điền"), ("Xã", "Nhơn Ái"), ("Xã", "Mỹ Khánh"),
                                    ("Xã", "Trường Long")]),
    ("CD", "Huyện", "Cờ Đỏ", [("Thị trấn", "Cờ Đỏ"), ("Xã", "Thới Hưng"), ("Xã", "Trung Hưng"),
                               ("Xã", "Đông Hiệp")]),
    ("TL", "Huyện", "Thới Lai", [("Thị trấn", "Thới Lai"), ("Xã", "Xuân Thắng"), ("Xã", "Định Môn"),
                                  ("Xã", "Trường Thành")]),
    ("VT", "Huyện", "Vĩnh Thạnh", [("Thị trấn", "Vĩnh Thạnh"), ("Thị trấn", "Thạnh An"), ("Xã", "Thạnh Quới"),
                                    ("Xã", "Vĩnh Trinh")]),
]

# 2025 (two tiers): communes and wards of the former Cần Thơ area after 1 July 2025 (reconstructed list)
COMMUNES_2025: list[tuple[str, str]] = [
    ("Phường", "Ninh Kiều"), ("Phường", "Cái Khế"), ("Phường", "Tân An"), ("Phường", "An Bình"),
    ("Phường", "Bình Thủy"), ("Phường", "Long Tuyền"), ("Phường", "Thới An Đông"), ("Phường", "Cái Răng"),
    ("Phường", "Hưng Phú"), ("Phường", "Ô Môn"), ("Phường", "Phước Thới"), ("Phường", "Thới Long"),
    ("Phường", "Thốt Nốt"), ("Phường", "Thuận Hưng"), ("Phường", "Trung Nhứt"), ("Xã", "Phong Điền"),
    ("Xã", "Nhơn Ái"), ("Xã", "Trường Long"), ("Xã", "Thới Lai"), ("Xã", "Cờ Đỏ"), ("Xã", "Vĩnh Thạnh"),
    ("Xã", "Thạnh An"),
]

# departments (sở) with a counter at the Public Administration Service Centre: code, vi, en
DEPARTMENTS_2022 = [
    ("STP", "Sở Tư pháp", "Department of Justice"),
    ("SKHDT", "Sở Kế hoạch và Đầu tư", "Department of Planning and Investment"),
    ("STNMT", "Sở Tài nguyên và Môi trường", "Department of Natural Resources and Environment"),
    ("SXD", "Sở Xây dựng", "Department of Construction"),
    ("SGTVT", "Sở Giao thông vận tải", "Department of Transport"),
    ("SLDTBXH", "Sở Lao động – Thương binh và Xã hội", "Department of Labour, Invalids and Social Affairs"),
    ("SYT", "Sở Y tế", "Department of Health"),
    ("SCT", "Sở Công Thương", "Department of Industry and Trade"),
    ("SNV", "Sở Nội vụ", "Department of Home Affairs"),
    ("SGDDT", "Sở Giáo dục và Đào tạo", "Department of Education and Training"),
]
# after the 2025 reorganisation of provincial departments (merged sở)
DEPARTMENTS_2025 = [
    ("STP", "Sở Tư pháp", "Department of Justice"),
    ("STC", "Sở Tài chính", "Department of Finance"),
    ("SNNMT", "Sở Nông nghiệp và Môi trường", "Department of Agriculture and Environment"),
    ("SXD", "Sở Xây dựng", "Department of Construction"),
    ("SNV", "Sở Nội vụ", "Department of Home Affairs"),
    ("SYT", "Sở Y tế", "Department of Health"),
    ("SCT", "Sở Công Thương", "Department of Industry and Trade"),
    ("SGDDT", "Sở Giáo dục và Đào tạo", "Department of Education and Training"),
    ("SKHCN", "Sở Khoa học và Công nghệ", "Department of Science and Technology"),
]

_EN_KIND = {"Quận": "District", "Huyện": "District", "Phường": "Ward", "Xã": "Commune", "Thị trấn": "Township"}


def ascii_name(text: str) -> str:
    """Vietnamese without diacritics (đ → d), as English texts write place names."""
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def slug(text: str) -> str:
    return "".join(c for c in ascii_name(text).upper() if c.isalnum())


@dataclass(frozen=True)
class DemoServicePoint:
    """What the response model needs to know about a service point."""

    code: str
    agency: str
    agency_kind: str
    tier: str  # "centre" (department counters / centre desk), "district", "commune"
    kiosk: str | None


@dataclass(frozen=True)
class Structure:
    name: str
    levels: list[dict[str, Any]]
    roots: list[dict[str, Any]]
    service_points: list[DemoServicePoint]
    months: list[date]  # first day of each month with synthetic responses
    unit_manager_unit: str
    agency_viewer_agency: str


def _months(first: date, count: int) -> list[date]:
    out = []
    y, m = first.year, first.month
    for _ in range(count):
        out.append(date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


class _Builder:
    def __init__(self) -> None:
        self.sps: list[DemoServicePoint] = []

    def agency(self, code: str, kind: str, vi: str, en: str, sps: list[tuple[str, str, str, bool]],
               tier: str) -> dict[str, Any]:
        docs = []
        for sp_code, sp_vi, sp_en, has_kiosk in sps:
            doc: dict[str, Any] = {"code": sp_code, "name_vi": sp_vi, "name_en": sp_en}
            kiosk = f"K-{sp_code}" if has_kiosk else None
            if kiosk:
                doc["kiosks"] = [{"code": kiosk, "name": f"Kiosk {sp_vi}"[:200]}]
            docs.append(doc)
            self.sps.append(DemoServicePoint(sp_code, code, kind, tier, kiosk))
        return {"code": code, "kind": kind, "name_vi": vi, "name_en": en, "service_points": docs}

    def city_agencies(self, departments: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
        out = [self.agency("TTPVHCC", "service_centre", CENTRE_VI, CENTRE_EN, [
            ("SP-TTPVHCC", "Quầy hướng dẫn, hỗ trợ dịch vụ công trực tuyến",
             "Guidance and online public services support desk", True)], "centre")]
        for code, vi, en in departments:
            out.append(self.agency(code, "department", vi, en, [
                (f"SP-{code}", f"Quầy {vi} tại Trung tâm Phục vụ hành chính công",
                 f"{en} counter at the Public Administration Service Centre", True)], "centre"))
        return out

    def commune(self, code: str, kind: str, name: str, *, one_stop_vi: str, one_stop_en: str,
                kiosk: bool) -> dict[str, Any]:
        vi, en = f"{kind} {name}", f"{ascii_name(name)} {_EN_KIND[kind]}"
        agency = self.agency(f"UB-{code}", "people_committee", f"Ủy ban nhân dân {kind.lower()} {name}",
                             f"People's Committee of {en}", [
                                 (f"SP-{code}", f"{one_stop_vi} {kind.lower()} {name}", f"{one_stop_en} of {en}",
                                  kiosk)], "commune")
        return {"code": code, "level": "commune", "name_vi": vi, "name_en": en,
                "agencies": [agency]}


def structure_2022() -> Structure:
    b = _Builder()
    districts = []
    for dcode, dkind, dname, communes in DISTRICTS_2022:
        d_vi, d_en = f"{dkind} {dname}", f"{ascii_name(dname)} District"
        ub = b.agency(f"UB-{dcode}", "people_committee", f"Ủy ban nhân dân {dkind.lower()} {dname}",
                      f"People's Committee of {d_en}", [
                          (f"SP-{dcode}-HT", f"Bộ phận Một cửa {dkind.lower()} {dname} – quầy Tư pháp, hộ tịch",
                           f"{d_en} one-stop department – justice and civil status counter", True),
                          (f"SP-{dcode}-DD", f"Bộ phận Một cửa {dkind.lower()} {dname} – quầy Đất đai, xây dựng",
                           f"{d_en} one-stop department – land and construction counter", True)], "district")
        units = [b.commune(f"{dcode}-{slug(name)}", kind, name, one_stop_vi="Bộ phận Một cửa",
                           one_stop_en="One-stop department", kiosk=False) for kind, name in communes]
        districts.append({"code": dcode, "level": "district", "name_vi": d_vi, "name_en": d_en,
                          "agencies": [ub], "units": units})
    city = {"code": CITY[0], "level": "city", "name_vi": CITY[1], "name_en": CITY[2],
            "agencies": b.city_agencies(DEPARTMENTS_2022), "units": districts}
    levels = [
        {"code": "city", "rank": 0, "name_vi": "Tỉnh/Thành phố", "name_en": "Province/City"},
        {"code": "district", "rank": 1, "name_vi": "Quận/Huyện", "name_en": "District"},
        {"code": "commune", "rank": 2, "name_vi": "Xã/Phường/Thị trấn", "name_en": "Commune/Ward/Township"},
    ]
    return Structure("2022", levels, [city], b.sps, _months(date(2021, 1, 1), 24), "NK", "STP")


def structure_2025() -> Structure:
    b = _Builder()
    units = [b.commune(slug(name), kind, name, one_stop_vi="Trung tâm Phục vụ hành chính công",
                       one_stop_en="Public Administration Service Centre", kiosk=kind == "Phường")
             for kind, name in COMMUNES_2025]
    city = {"code": CITY[0], "level": "city", "name_vi": CITY[1], "name_en": CITY[2], "valid_from": "2025-07-01",
            "agencies": b.city_agencies(DEPARTMENTS_2025), "units": units}
    levels = [
        {"code": "city", "rank": 0, "name_vi": "Tỉnh/Thành phố", "name_en": "Province/City"},
        {"code": "commune", "rank": 1, "name_vi": "Xã/Phường", "name_en": "Commune/Ward"},
    ]
    return Structure("2025", levels, [city], b.sps, _months(date(2024, 11, 1), 24), "NINHKIEU", "STP")


STRUCTURES = {"2022": structure_2022, "2025": structure_2025}


def structure(name: str) -> Structure:
    return STRUCTURES[name]()
