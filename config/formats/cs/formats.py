# Czech dates as Czech people write them: 2. 12. 2026 (Django's default spells the month out).
DATE_FORMAT = "j. n. Y"
DATETIME_FORMAT = "j. n. Y H:i"
SHORT_DATE_FORMAT = "j. n. Y"
SHORT_DATETIME_FORMAT = "j. n. Y H:i"
