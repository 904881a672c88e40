"""Word tables for address normalisation: each maps the ways people write one word to one short token.

Sources: USPS Publication 28 (street suffixes, directionals, unit designators, state codes), Royal Mail's
common abbreviations, and the usual German, French and Spanish forms. Every target is its own image (``st``
maps to ``st``), which keeps normalisation idempotent; tests check it.
"""

from __future__ import annotations

#: street types, directionals, ordinals and other words with a common short form
WORDS: dict[str, str] = {
    # English street types (USPS Pub. 28 / Royal Mail)
    "street": "st", "st": "st", "str": "str",
    "avenue": "ave", "ave": "ave", "av": "ave", "avn": "ave",
    "road": "rd", "rd": "rd",
    "boulevard": "blvd", "blvd": "blvd", "boul": "blvd", "bd": "blvd", "bvd": "blvd",
    "drive": "dr", "dr": "dr", "drv": "dr",
    "lane": "ln", "ln": "ln",
    "court": "ct", "ct": "ct",
    "place": "pl", "pl": "pl",
    "square": "sq", "sq": "sq",
    "terrace": "ter", "ter": "ter", "terr": "ter",
    "parkway": "pkwy", "pkwy": "pkwy", "pky": "pkwy",
    "highway": "hwy", "hwy": "hwy",
    "circle": "cir", "cir": "cir",
    "crescent": "cres", "cres": "cres", "cr": "cres",
    "close": "cl", "cl": "cl",
    "gardens": "gdns", "gdns": "gdns",
    "grove": "grv", "grv": "grv",
    "heights": "hts", "hts": "hts",
    "trail": "trl", "trl": "trl",
    "alley": "aly", "aly": "aly",
    "expressway": "expy", "expy": "expy",
    "freeway": "fwy", "fwy": "fwy",
    "center": "ctr", "centre": "ctr", "ctr": "ctr",
    "building": "bldg", "bldg": "bldg",
    "floor": "fl", "fl": "fl",
    "mount": "mt", "mt": "mt",
    "fort": "ft", "ft": "ft",
    "saint": "st", "sainte": "st",
    # directionals
    "north": "n", "south": "s", "east": "e", "west": "w",
    "northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
    # ordinals written as words
    "first": "1st", "second": "2nd", "third": "3rd", "fourth": "4th", "fifth": "5th",
    "sixth": "6th", "seventh": "7th", "eighth": "8th", "ninth": "9th", "tenth": "10th",
    # German
    "strasse": "str", "platz": "pl",
    # French
    "chemin": "ch", "ch": "ch", "impasse": "imp", "imp": "imp",
    # Spanish
    "calle": "calle", "avenida": "ave", "avda": "ave", "plaza": "pl", "pza": "pl", "pso": "paseo",
}  # fmt: skip

#: word endings that mean the same as a word (German compounds: "Hauptstraße" is "Hauptstr.")
SUFFIXES: dict[str, str] = {"strasse": "str", "platz": "pl"}

#: words that introduce a unit inside a building; the canonical form is "unit <value>" at the end
UNIT_DESIGNATORS = frozenset(
    {
        "apt", "apartment", "unit", "flat", "suite", "ste", "#", "rm", "room",
        "appt", "appartement", "app",  # French
        "wohnung", "whg",  # German
        "dpto", "departamento",  # Spanish
    }
)  # fmt: skip

#: words that mean "number" before a house number ("No. 10", "Nr. 5", "nº 45"); dropped before digits
NUMBER_MARKERS = frozenset({"no", "nr", "num", "numero"})

#: country names that may end an address; dropped (the applicant's country is a separate field)
COUNTRY_NAMES: tuple[tuple[str, ...], ...] = (
    ("united", "states", "of", "america"), ("united", "states"), ("usa",), ("us",),
    ("united", "kingdom"), ("great", "britain"), ("uk",), ("gb",),
    ("deutschland",), ("germany",), ("france",), ("espana",), ("spain",), ("canada",),
    ("australia",), ("brasil",), ("brazil",), ("india",), ("bharat",), ("mexico",), ("italia",), ("italy",),
    ("nederland",), ("netherlands",), ("osterreich",), ("oesterreich",), ("austria",), ("schweiz",),
    ("switzerland",), ("suisse",), ("belgique",), ("belgium",), ("portugal",), ("ireland",),
)  # fmt: skip

#: US state and district names to their USPS codes (applied when the country is US)
US_STATES: dict[tuple[str, ...], str] = {
    tuple(name.split()): code
    for name, code in (
        ("alabama", "al"), ("alaska", "ak"), ("arizona", "az"), ("arkansas", "ar"), ("california", "ca"),
        ("colorado", "co"), ("connecticut", "ct"), ("delaware", "de"), ("district of columbia", "dc"),
        ("florida", "fl"), ("georgia", "ga"), ("hawaii", "hi"), ("idaho", "id"), ("illinois", "il"),
        ("indiana", "in"), ("iowa", "ia"), ("kansas", "ks"), ("kentucky", "ky"), ("louisiana", "la"),
        ("maine", "me"), ("maryland", "md"), ("massachusetts", "ma"), ("michigan", "mi"), ("minnesota", "mn"),
        ("mississippi", "ms"), ("missouri", "mo"), ("montana", "mt"), ("nebraska", "ne"), ("nevada", "nv"),
        ("new hampshire", "nh"), ("new jersey", "nj"), ("new mexico", "nm"), ("new york", "ny"),
        ("north carolina", "nc"), ("north dakota", "nd"), ("ohio", "oh"), ("oklahoma", "ok"),
        ("oregon", "or"),
        ("pennsylvania", "pa"), ("rhode island", "ri"), ("south carolina", "sc"), ("south dakota", "sd"),
        ("tennessee", "tn"), ("texas", "tx"), ("utah", "ut"), ("vermont", "vt"), ("virginia", "va"),
        ("washington", "wa"), ("west virginia", "wv"), ("wisconsin", "wi"), ("wyoming", "wy"),
    )
}  # fmt: skip

#: letters that accent folding (NFD, drop marks) leaves alone
LETTERS: dict[str, str] = {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
#: German-speaking countries write umlauts out as ae, oe, ue; elsewhere an umlaut just loses its dots
UMLAUT_COUNTRIES = frozenset({"de", "at", "ch", "li"})
UMLAUTS: dict[str, str] = {"ä": "ae", "ö": "oe", "ü": "ue"}
