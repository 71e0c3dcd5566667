"""A seeded generator for the reference healthcare record (``healthcare.yaml``).

No real EHR export ships with fedcore, so the built-in ``healthcare`` data set is drawn from a
hand-written causal model: age and sex drive BMI, smoking and diagnosis; diagnosis, BMI and age
drive glucose and blood pressure; the diagnosis and age drive conditions, medications and
utilisation, which drive cost; risk is a noisy score of age, BMI, glucose, diagnosis, smoking and
dialysis. Two columns exist to exercise rare categories and discrete numbers: ``OnDialysis``
(about 1.5% "Yes", almost all with chronic kidney disease) and ``CigarettesPerDay`` (a few
self-reported levels). The effect sizes are plausible, not fitted to any population.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_ROWS = 3000  # the built-in table's size
DEFAULT_SEED = 20240601  # the built-in table is always the same draw

GENDERS = ("Male", "Female", "Other")
GENDER_SHARES = (0.485, 0.5, 0.015)
DIAGNOSES = ("Diabetes", "Hypertension", "Healthy", "HeartDisease", "ChronicKidneyDisease", "Cancer")
ENCOUNTER_TYPES = ("wellness", "ambulatory", "outpatient", "urgentcare", "emergency", "inpatient")
CIGARETTE_LEVELS = (5.0, 10.0, 20.0, 40.0)  # smokers' self-reported cigarettes per day (0 for non-smokers)
CIGARETTE_SHARES = (0.3, 0.35, 0.28, 0.07)
RISK_LEVELS = ("Low", "Medium", "High")


def generate_healthcare(rng: np.random.Generator, rows: int = DEFAULT_ROWS) -> pd.DataFrame:
    """``rows`` synthetic patients in the healthcare schema's columns, drawn with ``rng``."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    age = np.clip(np.round(rng.normal(52.0, 17.0, rows)), 18, 90)
    gender = rng.choice(len(GENDERS), size=rows, p=GENDER_SHARES)
    male = gender == 0
    bmi = np.clip(rng.normal(26.0 + 0.05 * (age - 50.0), 4.5, rows), 15.0, 50.0)
    smoker = rng.random(rows) < np.where(male, 0.22, 0.14)
    cigarettes = np.where(smoker, rng.choice(CIGARETTE_LEVELS, size=rows, p=CIGARETTE_SHARES), 0.0)
    diagnosis = _diagnosis(rng, age, bmi, male, smoker)
    diabetes, hypertension = diagnosis == 0, diagnosis == 1
    kidney = diagnosis == 4
    glucose = rng.normal(92.0 + 0.9 * (bmi - 26.0) + 0.15 * (age - 50.0), 12.0, rows)
    glucose += diabetes * rng.normal(75.0, 35.0, rows) + kidney * 12.0
    glucose = np.clip(np.round(glucose), 50, 400)
    pressure = rng.normal(100.0 + 0.55 * age + 0.8 * (bmi - 26.0), 10.0, rows)
    pressure += hypertension * 25.0 + kidney * 12.0 + (diagnosis == 3) * 8.0 + smoker * 3.0
    pressure = np.clip(np.round(pressure), 80, 200)
    dialysis = rng.random(rows) < np.where(kidney, 0.17 + 0.004 * (age - 50.0), 0.001)
    sick = diagnosis != 2
    conditions = np.clip(rng.poisson(0.4 + 0.035 * (age - 18.0) + 2.0 * sick + 2.0 * dialysis), 0, 30)
    medications = np.clip(rng.poisson(0.5 + 1.2 * conditions + 4.0 * dialysis), 0, 100)
    score = _risk_score(rng, age, bmi, glucose, diagnosis, smoker, dialysis)
    risk = np.digitize(score, [1.35, 3.65])  # about 45% Low, 35% Medium, 20% High
    encounter_type = _encounter_type(rng, risk)
    encounters = np.clip(rng.poisson(np.exp(1.2 + 0.12 * conditions + 0.35 * risk + 2.2 * dialysis)), 0, 500)
    procedures = np.clip(rng.poisson(0.4 * encounters + 0.5 * conditions), 0, 200)
    cost = (250.0 * encounters + 900.0 * procedures + 120.0 * medications) * rng.lognormal(0.0, 0.35, rows)
    cost = np.clip(cost + (encounter_type == 5) * rng.lognormal(9.3, 0.5, rows), 0.0, 300_000.0)
    allergies = rng.random(rows) < 0.22 + 0.02 * conditions.clip(0, 5)
    return pd.DataFrame({
        "Age": age,
        "Gender": np.array(GENDERS, dtype=object)[gender],
        "BMI": np.round(bmi, 1),
        "BloodPressure": pressure,
        "Glucose": glucose,
        "Diagnosis": np.array(DIAGNOSES, dtype=object)[diagnosis],
        "EncounterType": np.array(ENCOUNTER_TYPES, dtype=object)[encounter_type],
        "EncounterCount": encounters.astype(float),
        "MedicationCount": medications.astype(float),
        "ConditionCount": conditions.astype(float),
        "ProcedureCount": procedures.astype(float),
        "TotalCost": np.round(cost, 2),
        "HasAllergies": np.where(allergies, "Yes", "No").astype(object),
        "OnDialysis": np.where(dialysis, "Yes", "No").astype(object),
        "CigarettesPerDay": cigarettes,
        "RiskLevel": np.array(RISK_LEVELS, dtype=object)[risk],
    })


def _diagnosis(rng, age, bmi, male, smoker) -> np.ndarray:
    """Multinomial logit over DIAGNOSES; Healthy is the reference (logit 0)."""
    decades = (age - 50.0) / 10.0
    logits = np.stack([
        -1.2 + 0.25 * decades + 0.15 * (bmi - 26.0),  # Diabetes
        -0.9 + 0.45 * decades + 0.05 * (bmi - 26.0),  # Hypertension
        np.zeros_like(age),  # Healthy
        -2.0 + 0.55 * decades + 0.5 * male + 0.7 * smoker,  # HeartDisease
        -1.8 + 0.45 * decades,  # ChronicKidneyDisease
        -2.4 + 0.5 * decades + 0.6 * smoker,  # Cancer
    ], axis=1)  # (N, 6)
    return _draw(rng, logits)


def _risk_score(rng, age, bmi, glucose, diagnosis, smoker, dialysis) -> np.ndarray:
    weights = np.array([0.9, 0.5, -1.0, 1.3, 1.4, 1.6])  # per diagnosis, in DIAGNOSES order
    score = (0.045 * (age - 50.0) + 0.09 * (bmi - 26.0) + 0.018 * (glucose - 100.0)
             + weights[diagnosis] + 0.5 * smoker + 2.0 * dialysis)
    return score + 1.3 + rng.logistic(0.0, 0.6, len(age))


def _encounter_type(rng, risk) -> np.ndarray:
    """Sicker patients are seen more often in emergency and inpatient settings."""
    shares = np.array([
        [0.40, 0.30, 0.18, 0.07, 0.04, 0.01],  # Low
        [0.22, 0.32, 0.22, 0.10, 0.09, 0.05],  # Medium
        [0.08, 0.22, 0.20, 0.12, 0.20, 0.18],  # High
    ])
    return _draw(rng, np.log(shares[risk]))


def _draw(rng: np.random.Generator, logits: np.ndarray) -> np.ndarray:
    """One category index per row from (N, K) logits (Gumbel-max)."""
    return np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
