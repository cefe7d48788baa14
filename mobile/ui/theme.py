"""Colours, in one place so the .kv files agree (imported there with #:import)."""

BACKGROUND = (0.96, 0.96, 0.97, 1)
SURFACE = (1, 1, 1, 1)
TEXT = (0.13, 0.14, 0.16, 1)
MUTED = (0.42, 0.44, 0.48, 1)
PRIMARY = (0.11, 0.35, 0.69, 1)  # police blue
PRIMARY_TEXT = (1, 1, 1, 1)
DANGER = (0.76, 0.16, 0.16, 1)
BAR = (0.09, 0.24, 0.49, 1)
BUTTON = (0.88, 0.90, 0.93, 1)
DIVIDER = (0.85, 0.86, 0.88, 1)

# Status chips: green = fine, yellow = needs attention, red = problem, grey = unknown.
LEVELS = {
    "green": (0.16, 0.56, 0.27, 1),
    "yellow": (0.85, 0.60, 0.05, 1),
    "red": (0.76, 0.16, 0.16, 1),
    "grey": (0.55, 0.57, 0.60, 1),
}
BANNER = (1.0, 0.95, 0.80, 1)  # pending items: warm, not alarming
BANNER_REFUSED = (0.99, 0.88, 0.88, 1)
TOAST = {"info": (0.15, 0.17, 0.20, 0.95), "error": (0.62, 0.12, 0.12, 0.96)}
