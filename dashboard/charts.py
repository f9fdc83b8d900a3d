"""Geometry of the dashboard's SVG charts, computed here so the template only draws: stacked
columns (billed per month by label) and horizontal bars (everything else)."""

from decimal import Decimal

from dashboard.figures import Bar, Stacked

# Distinguishable in colour-blind palettes (Okabe–Ito), dark enough against white.
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#8c6d1f", "#555")
WIDTH, HEIGHT = 900, 240
LEFT, TOP, BOTTOM = 64, 12, 30
BAR_ROW, BAR_LEFT, BAR_RIGHT = 26, 190, 440


def _nice_top(value: Decimal) -> Decimal:
    """The smallest 1, 2 or 5 × 10ⁿ at or above `value` (at least 1)."""
    if value <= 0:
        return Decimal(1)
    magnitude = Decimal(10) ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def stacked_columns(data: Stacked) -> dict:
    plot_height = HEIGHT - TOP - BOTTOM
    top = _nice_top(max(data.totals, default=Decimal(0)))
    slot = (WIDTH - LEFT) / max(len(data.columns), 1)
    colours = {name: PALETTE[n % len(PALETTE)] for n, name in enumerate(data.values)}
    columns = []
    for position, label in enumerate(data.columns):
        y = TOP + plot_height
        segments = []
        for name, values in data.values.items():
            height = float(values[position] / top) * plot_height
            if height > 0:
                y -= height
                segments.append({"y": y, "height": height, "colour": colours[name], "name": name})
        columns.append(
            {
                "x": LEFT + position * slot + slot * 0.15,
                "width": slot * 0.7,
                "label": label,
                "label_x": LEFT + position * slot + slot / 2,
                "segments": segments,
            }
        )
    grid = [
        {"y": TOP + plot_height - plot_height * share, "value": top * Decimal(str(share))}
        for share in (0, 0.25, 0.5, 0.75, 1)
    ]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "axis_y": HEIGHT - BOTTOM + 18,
        "columns": columns,
        "grid": grid,
        "legend": [{"name": name, "colour": colour} for name, colour in colours.items()],
    }


def bars(rows: list[Bar]) -> dict:
    top = max((row.value for row in rows), default=Decimal(0)) or Decimal(1)
    span = BAR_RIGHT - BAR_LEFT
    return {
        "width": BAR_RIGHT + 110,
        "height": len(rows) * BAR_ROW + 8,
        "rows": [
            {
                "bar": row,
                "y": n * BAR_ROW + 4,
                "text_y": n * BAR_ROW + 4 + 14,
                "width": max(float(row.value / top) * span, 1 if row.value else 0),
                "value_x": BAR_LEFT + float(row.value / top) * span + 6,
                "colour": PALETTE[0],
            }
            for n, row in enumerate(rows)
        ],
        "label_x": BAR_LEFT - 8,
        "bar_x": BAR_LEFT,
    }
