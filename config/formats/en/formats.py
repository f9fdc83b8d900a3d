# Dates as people in Europe write them in English: 2 Dec 2026 (Django's default is Dec. 2, 2026).
DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
