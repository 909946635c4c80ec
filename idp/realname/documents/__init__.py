"""Identity documents: parse, validate, normalise and mask numbers (R-03, R-10, R-11, R-20).

Standards implemented:

- GB 11643-1999 citizen identity number (居民身份证), ISO 7064:2003 MOD 11-2 check character,
  GB/T 2260 administrative division codes, GB/T 7408 dates — :mod:`.resident`;
- residence permits for Hong Kong, Macao and Taiwan residents (国办发〔2018〕81号, GB 11643
  form with 810000/820000/830000) — :mod:`.resident`;
- foreigners' permanent residence ID card, 2023 form (NIA machine-readable rules 2023, GB 11643
  form starting with 9, ISO 3166-1 numeric nationality) and 2004/2017 form — :mod:`.foreign`;
- mainland travel permits for Hong Kong/Macao and Taiwan residents, passports with
  ISO 3166-1 alpha-3 issuing country — :mod:`.permits`;
- GB 32100-2015 unified social credit code with GB 11714-1997 organisation code — :mod:`.uscc`.

All functions are pure (no Flask, no database). Errors are :class:`DocumentError` subclasses
with a machine ``code`` and messages in Simplified Chinese and English that name the wrong part.
"""

from idp.realname.documents.api import document_type, mask, parse
from idp.realname.documents.checksums import gb11714, mod11_2, uscc_mod31
from idp.realname.documents.errors import (
    BirthDateError,
    CharsetError,
    CheckCharacterError,
    CountryError,
    DivisionCodeError,
    DocumentError,
    EmptyError,
    LengthError,
    NationalityError,
    OrganisationCodeError,
    PrefixError,
    RegistrationTypeError,
    SequenceError,
    UnknownDocumentTypeError,
)
from idp.realname.documents.model import DocumentType, ParsedDocument, Sex
from idp.realname.documents.normalise import Normalised, normalise
from idp.realname.documents.resident import convert_15_to_18

__all__ = [
    "BirthDateError",
    "CharsetError",
    "CheckCharacterError",
    "CountryError",
    "DivisionCodeError",
    "DocumentError",
    "DocumentType",
    "EmptyError",
    "LengthError",
    "NationalityError",
    "Normalised",
    "OrganisationCodeError",
    "ParsedDocument",
    "PrefixError",
    "RegistrationTypeError",
    "SequenceError",
    "Sex",
    "UnknownDocumentTypeError",
    "convert_15_to_18",
    "document_type",
    "gb11714",
    "mask",
    "mod11_2",
    "normalise",
    "parse",
    "uscc_mod31",
]
