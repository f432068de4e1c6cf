"""Canonical names used everywhere: data-contract roles, age groups, modalities, defaults."""

from __future__ import annotations

# Canonical column roles of the data contract (DESIGN.md section 4).
PERSON_ROLES = (
    "person_id",
    "site_id",
    "area_id",
    "age",
    "sex",
    "primary_drug",
    "referral_route",
    "modality",
)
INTERVIEW_ROLES = ("person_id", "wave", "interviewed", "months", "in_treatment")
POPULATION_VARIABLES = ("age_group", "sex", "primary_drug", "referral_route", "modality")

# Age groups used to match the cohort's ages to the population table.
AGE_BREAKS = (18, 25, 35, 45, 200)
AGE_LABELS = ("18-24", "25-34", "35-44", "45+")

# Default interval: one place (ArviZ's own default, 89% ETI, is overridden on purpose to a
# round 90% that matches the coverage studies).
CI_PROB = 0.90

# Treatment modalities of DTORS, in the order the simulator writes them.
DTORS_MODALITIES = ("prescribing", "psychosocial", "residential", "day_care", "inpatient_detox")

DEFAULT_SEED = 20060201

# NUTS target acceptance when the user gives none. 0.9 rather than nutpie's 0.8: the
# partially pooled modality scales (few groups, HalfNormal(0.5)) gave 1-4 divergent
# transitions in about one fit in six at 0.8 (rstanarm uses 0.95 for group-level models).
TARGET_ACCEPT = 0.9
