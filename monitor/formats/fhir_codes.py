"""The codes FHIR files carry for what we record: DXA LOINC codes, body sites, genders, our extensions.

Shared by the FHIR reader (fhir_read) and writer (fhir_write), so a file we write reads back the same.
"""

from __future__ import annotations

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
# Our own codes and extensions (urn: they name, they do not resolve): a TOH episode Condition and
# the values FHIR has no element for, so `export fhir --history` reads back whole.
OWN_SYSTEM = "urn:toh-monitor"
TOH_CODE = "toh"
EXT = "urn:toh-monitor:"

# LOINC -> (site, side or None, measure); fixtures/fhir/README.md, checked against OHDSI THEMIS.
DXA_LOINC: dict[str, tuple[str, str | None, str]] = {
    "46278-8": ("total_hip", "left", "bmd"), "46279-6": ("total_hip", "right", "bmd"),
    "80946-7": ("total_hip", "left", "t_score"), "80945-9": ("total_hip", "right", "t_score"),
    "80938-4": ("total_hip", "left", "z_score"), "80937-6": ("total_hip", "right", "z_score"),
    "80954-1": ("femoral_neck", "left", "bmd"), "80953-3": ("femoral_neck", "right", "bmd"),
    "80948-3": ("femoral_neck", "left", "t_score"), "80947-5": ("femoral_neck", "right", "t_score"),
    "80940-0": ("femoral_neck", "left", "z_score"), "80939-2": ("femoral_neck", "right", "z_score"),
    "38261-4": ("total_hip", None, "bmd"), "38264-8": ("total_hip", None, "t_score"),
    "80933-5": ("total_hip", None, "z_score"),
    "24701-5": ("femoral_neck", None, "bmd"), "38263-0": ("femoral_neck", None, "t_score"),
    "80934-3": ("femoral_neck", None, "z_score"),
    "24966-4": ("lumbar_spine", None, "bmd"), "38267-1": ("lumbar_spine", None, "t_score"),
    "85394-5": ("lumbar_spine", None, "z_score"),
}
LOINC_OF = {value: code for code, value in DXA_LOINC.items()}  # (site, side, measure) -> LOINC
DXA_PANEL = "83311-1"  # Bone density quantitative measurement by DXA panel
SITE_WORDS = {"total_hip": "Hip", "femoral_neck": "Femur", "lumbar_spine": "L-spine"}
MEASURE_WORDS = {"bmd": "ArMass BMD", "t_score": "T-score BMD", "z_score": "Z-score BMD"}

LATERALITY = {"7771000": "left", "24028007": "right"}  # SNOMED qualifiers
SIDE_CODE = {side: code for code, side in LATERALITY.items()}
# SNOMED body structures -> joint (the joint structure, and the region where EHRs code it)
JOINT_CODES = {"24136001": "hip", "29836001": "hip", "49076000": "knee", "72696002": "knee",
               "70258002": "ankle", "344001": "ankle", "56459004": "foot"}
JOINT_CODE = {"hip": "24136001", "knee": "72696002", "ankle": "70258002", "foot": "56459004"}

GENDER = {"female": "F", "male": "M", "other": "X"}
GENDER_OF = {"F": "female", "M": "male", "X": "other"}
# When `gender` is absent: US Core's sex extensions (birth sex code; individual sex SNOMED code).
BIRTH_SEX_EXT = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"
INDIVIDUAL_SEX_EXT = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-individual-sex"
BIRTH_SEX = {"F": "F", "M": "M"}
INDIVIDUAL_SEX = {"248152002": "F", "248153007": "M"}

DXA_SERVICE_TEXT = "DXA bone density scan"  # the scan to book (text: no code we could vouch for)
