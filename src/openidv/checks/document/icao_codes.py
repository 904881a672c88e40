"""ICAO Doc 9303 part 3 codes for issuing states, organisations and nationalities.

Why a list of our own: the MRZ check flags issuers and nationalities that no genuine document can carry
(``MRZ_ISSUER_UNKNOWN``, ``MRZ_NATIONALITY_UNKNOWN``), and the declared-nationality comparison needs to know
that ``D`` (Germany in the MRZ) and ``DE``/``DEU`` (what an applicant types) are the same country.

What is included, and why:

* Every *officially assigned* ISO 3166-1 alpha-3 code (249 codes, taken from the Debian ``iso-codes`` 4.15.0
  table), because Doc 9303 part 3 uses ISO 3166-1 alpha-3 for states. ``DEU`` stays in although German
  documents print ``D<<``: it is an ISO code, and some non-German issuers write it for German nationals.
  Withdrawn codes (``ANT``, ``SCG``, ``YUG`` ...) are left out: documents that carry them expired long ago.
* The Doc 9303 part 3 special codes: ``D`` (Germany), the five British nationality codes (``GBD``, ``GBN``,
  ``GBO``, ``GBP``, ``GBS``), the United Nations codes (``UNO``, ``UNA``, ``UNK``), the travel-document codes
  for stateless persons, refugees and unspecified nationality (``XXA``, ``XXB``, ``XXC``, ``XXX``), and the
  codes of the organisations that issue travel documents (``EUE``, ``XBA``, ``XCC``, ``XCE``, ``XCO``,
  ``XDC``, ``XEC``, ``XES``, ``XIM``, ``XMP``, ``XOM``, ``XPO``).
* ``RKS``: not in Doc 9303, but printed by the Republic of Kosovo on its passports and identity cards, which
  most states accept; rejecting it would flag every genuine Kosovo document.
* ``UTO``: Utopia, the fictional state of the ICAO specimens, so specimens and synthetic documents validate.
  Production policies that must reject specimens use the issuer in the details, not this list.

What is deliberately *not* included: ``ZIM`` (Zimbabwe is ``ZWE``; ``ZIM`` is the IOC/FIFA code and appears on
no genuine MRZ), ``WSA`` (the "World Service Authority" world passport is a fantasy document), ``INP`` (an old
INTERPOL code that Doc 9303 replaced by ``XPO``), and ISO user-assigned codes such as ``XKX``.
"""

from __future__ import annotations

from functools import cache

#: ISO 3166-1 officially assigned codes: alpha-3, alpha-2, short name.
_ISO_3166_TABLE = """\
ABW AW Aruba
AFG AF Afghanistan
AGO AO Angola
AIA AI Anguilla
ALA AX Åland Islands
ALB AL Albania
AND AD Andorra
ARE AE United Arab Emirates
ARG AR Argentina
ARM AM Armenia
ASM AS American Samoa
ATA AQ Antarctica
ATF TF French Southern Territories
ATG AG Antigua and Barbuda
AUS AU Australia
AUT AT Austria
AZE AZ Azerbaijan
BDI BI Burundi
BEL BE Belgium
BEN BJ Benin
BES BQ Bonaire, Sint Eustatius and Saba
BFA BF Burkina Faso
BGD BD Bangladesh
BGR BG Bulgaria
BHR BH Bahrain
BHS BS Bahamas
BIH BA Bosnia and Herzegovina
BLM BL Saint Barthélemy
BLR BY Belarus
BLZ BZ Belize
BMU BM Bermuda
BOL BO Bolivia
BRA BR Brazil
BRB BB Barbados
BRN BN Brunei Darussalam
BTN BT Bhutan
BVT BV Bouvet Island
BWA BW Botswana
CAF CF Central African Republic
CAN CA Canada
CCK CC Cocos (Keeling) Islands
CHE CH Switzerland
CHL CL Chile
CHN CN China
CIV CI Côte d'Ivoire
CMR CM Cameroon
COD CD Congo, The Democratic Republic of the
COG CG Congo
COK CK Cook Islands
COL CO Colombia
COM KM Comoros
CPV CV Cabo Verde
CRI CR Costa Rica
CUB CU Cuba
CUW CW Curaçao
CXR CX Christmas Island
CYM KY Cayman Islands
CYP CY Cyprus
CZE CZ Czechia
DEU DE Germany
DJI DJ Djibouti
DMA DM Dominica
DNK DK Denmark
DOM DO Dominican Republic
DZA DZ Algeria
ECU EC Ecuador
EGY EG Egypt
ERI ER Eritrea
ESH EH Western Sahara
ESP ES Spain
EST EE Estonia
ETH ET Ethiopia
FIN FI Finland
FJI FJ Fiji
FLK FK Falkland Islands (Malvinas)
FRA FR France
FRO FO Faroe Islands
FSM FM Micronesia, Federated States of
GAB GA Gabon
GBR GB United Kingdom
GEO GE Georgia
GGY GG Guernsey
GHA GH Ghana
GIB GI Gibraltar
GIN GN Guinea
GLP GP Guadeloupe
GMB GM Gambia
GNB GW Guinea-Bissau
GNQ GQ Equatorial Guinea
GRC GR Greece
GRD GD Grenada
GRL GL Greenland
GTM GT Guatemala
GUF GF French Guiana
GUM GU Guam
GUY GY Guyana
HKG HK Hong Kong
HMD HM Heard Island and McDonald Islands
HND HN Honduras
HRV HR Croatia
HTI HT Haiti
HUN HU Hungary
IDN ID Indonesia
IMN IM Isle of Man
IND IN India
IOT IO British Indian Ocean Territory
IRL IE Ireland
IRN IR Iran
IRQ IQ Iraq
ISL IS Iceland
ISR IL Israel
ITA IT Italy
JAM JM Jamaica
JEY JE Jersey
JOR JO Jordan
JPN JP Japan
KAZ KZ Kazakhstan
KEN KE Kenya
KGZ KG Kyrgyzstan
KHM KH Cambodia
KIR KI Kiribati
KNA KN Saint Kitts and Nevis
KOR KR South Korea
KWT KW Kuwait
LAO LA Laos
LBN LB Lebanon
LBR LR Liberia
LBY LY Libya
LCA LC Saint Lucia
LIE LI Liechtenstein
LKA LK Sri Lanka
LSO LS Lesotho
LTU LT Lithuania
LUX LU Luxembourg
LVA LV Latvia
MAC MO Macao
MAF MF Saint Martin (French part)
MAR MA Morocco
MCO MC Monaco
MDA MD Moldova
MDG MG Madagascar
MDV MV Maldives
MEX MX Mexico
MHL MH Marshall Islands
MKD MK North Macedonia
MLI ML Mali
MLT MT Malta
MMR MM Myanmar
MNE ME Montenegro
MNG MN Mongolia
MNP MP Northern Mariana Islands
MOZ MZ Mozambique
MRT MR Mauritania
MSR MS Montserrat
MTQ MQ Martinique
MUS MU Mauritius
MWI MW Malawi
MYS MY Malaysia
MYT YT Mayotte
NAM NA Namibia
NCL NC New Caledonia
NER NE Niger
NFK NF Norfolk Island
NGA NG Nigeria
NIC NI Nicaragua
NIU NU Niue
NLD NL Netherlands
NOR NO Norway
NPL NP Nepal
NRU NR Nauru
NZL NZ New Zealand
OMN OM Oman
PAK PK Pakistan
PAN PA Panama
PCN PN Pitcairn
PER PE Peru
PHL PH Philippines
PLW PW Palau
PNG PG Papua New Guinea
POL PL Poland
PRI PR Puerto Rico
PRK KP North Korea
PRT PT Portugal
PRY PY Paraguay
PSE PS Palestine, State of
PYF PF French Polynesia
QAT QA Qatar
REU RE Réunion
ROU RO Romania
RUS RU Russian Federation
RWA RW Rwanda
SAU SA Saudi Arabia
SDN SD Sudan
SEN SN Senegal
SGP SG Singapore
SGS GS South Georgia and the South Sandwich Islands
SHN SH Saint Helena, Ascension and Tristan da Cunha
SJM SJ Svalbard and Jan Mayen
SLB SB Solomon Islands
SLE SL Sierra Leone
SLV SV El Salvador
SMR SM San Marino
SOM SO Somalia
SPM PM Saint Pierre and Miquelon
SRB RS Serbia
SSD SS South Sudan
STP ST Sao Tome and Principe
SUR SR Suriname
SVK SK Slovakia
SVN SI Slovenia
SWE SE Sweden
SWZ SZ Eswatini
SXM SX Sint Maarten (Dutch part)
SYC SC Seychelles
SYR SY Syria
TCA TC Turks and Caicos Islands
TCD TD Chad
TGO TG Togo
THA TH Thailand
TJK TJ Tajikistan
TKL TK Tokelau
TKM TM Turkmenistan
TLS TL Timor-Leste
TON TO Tonga
TTO TT Trinidad and Tobago
TUN TN Tunisia
TUR TR Türkiye
TUV TV Tuvalu
TWN TW Taiwan
TZA TZ Tanzania
UGA UG Uganda
UKR UA Ukraine
UMI UM United States Minor Outlying Islands
URY UY Uruguay
USA US United States
UZB UZ Uzbekistan
VAT VA Holy See (Vatican City State)
VCT VC Saint Vincent and the Grenadines
VEN VE Venezuela
VGB VG Virgin Islands, British
VIR VI Virgin Islands, U.S.
VNM VN Vietnam
VUT VU Vanuatu
WLF WF Wallis and Futuna
WSM WS Samoa
YEM YE Yemen
ZAF ZA South Africa
ZMB ZM Zambia
ZWE ZW Zimbabwe
"""

#: Doc 9303 part 3 codes that are not ISO 3166-1 alpha-3 codes, with what they designate.
ICAO_SPECIAL_CODES: dict[str, str] = {
    "D": "Germany",
    "GBD": "British Overseas Territories Citizen",
    "GBN": "British National (Overseas)",
    "GBO": "British Overseas Citizen",
    "GBP": "British Protected Person",
    "GBS": "British Subject",
    "UNO": "United Nations Organization or one of its officials",
    "UNA": "Specialized agency of the United Nations or one of its officials",
    "UNK": "Resident of Kosovo with a travel document issued by UNMIK",
    "XXA": "Stateless person (1954 Convention)",
    "XXB": "Refugee (1951 Convention)",
    "XXC": "Refugee (other than under the 1951 Convention)",
    "XXX": "Person of unspecified nationality",
    "EUE": "European Union",
    "XBA": "African Development Bank",
    "XCC": "Caribbean Community (CARICOM)",
    "XCE": "Council of Europe",
    "XCO": "Common Market for Eastern and Southern Africa (COMESA)",
    "XDC": "Southern African Development Community (SADC)",
    "XEC": "Economic Community of West African States (ECOWAS)",
    "XES": "Organisation of Eastern Caribbean States (OECS)",
    "XIM": "African Export-Import Bank (Afreximbank)",
    "XMP": "Parliamentary Assembly of the Mediterranean",
    "XOM": "Sovereign Military Order of Malta",
    "XPO": "INTERPOL",
}

#: Codes seen on genuine documents that Doc 9303 does not list (see the module docstring).
DE_FACTO_CODES: dict[str, str] = {"RKS": "Republic of Kosovo"}

#: The fictional issuing state of the ICAO Doc 9303 specimens.
SPECIMEN_CODES: dict[str, str] = {"UTO": "Utopia (ICAO specimen state)"}

#: MRZ codes that designate the same nationality as an ISO alpha-3 code, for declared-data comparison.
#: All British nationality classes compare equal to GBR: an applicant types "British", not the class.
_SAME_NATIONALITY: dict[str, str] = {
    "D": "DEU",
    "GBD": "GBR",
    "GBN": "GBR",
    "GBO": "GBR",
    "GBP": "GBR",
    "GBS": "GBR",
    "RKS": "XKX",
    "UNK": "XKX",
    "XK": "XKX",
    "XKX": "XKX",
}


@cache
def iso_countries() -> dict[str, tuple[str, str]]:
    """ISO alpha-3 -> (alpha-2, name), parsed once from the table above."""
    table: dict[str, tuple[str, str]] = {}
    for line in _ISO_3166_TABLE.splitlines():
        alpha3, alpha2, name = line.split(" ", 2)
        table[alpha3] = (alpha2, name)
    return table


@cache
def known_codes() -> frozenset[str]:
    """Every code an MRZ issuer or nationality field may hold (fillers stripped)."""
    return (
        frozenset(iso_countries())
        | frozenset(ICAO_SPECIAL_CODES)
        | frozenset(DE_FACTO_CODES)
        | frozenset(SPECIMEN_CODES)
    )


def is_known_code(code: str) -> bool:
    """True for a code from the list above; ``code`` may carry trailing fillers (``D<<``)."""
    return code.rstrip("<") in known_codes()


def code_name(code: str) -> str | None:
    """A readable name for a code, or None when it is not in the list."""
    code = code.rstrip("<")
    if code in iso_countries():
        return iso_countries()[code][1]
    return ICAO_SPECIAL_CODES.get(code) or DE_FACTO_CODES.get(code) or SPECIMEN_CODES.get(code)


@cache
def _alpha2_to_alpha3() -> dict[str, str]:
    return {alpha2: alpha3 for alpha3, (alpha2, _) in iso_countries().items()}


def canonical_nationality(code: str) -> str | None:
    """Map an MRZ code, an ISO alpha-3 or an ISO alpha-2 code to one comparable alpha-3 form.

    Why: applicants type ``DE`` or ``DEU`` where the MRZ says ``D``. Returns None for an unknown code.
    """
    code = code.strip().upper().rstrip("<")
    if code in _SAME_NATIONALITY:
        return _SAME_NATIONALITY[code]
    if code in known_codes():
        return code
    if len(code) == 2:
        return _alpha2_to_alpha3().get(code)
    return None


def same_nationality(mrz_code: str, declared: str) -> bool:
    """True when the MRZ code and the declared code designate the same nationality."""
    left, right = canonical_nationality(mrz_code), canonical_nationality(declared)
    return left is not None and left == right
