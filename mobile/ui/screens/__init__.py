"""The shell's own screens: login, and the page for a role without a mini-program."""
