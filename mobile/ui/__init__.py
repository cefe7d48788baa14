"""The Kivy shell: login, role detection, navigation, shared widgets, i18n.

`core_wiring` is the one module here that imports no Kivy: it builds the headless
core the app is handed, so it can be tested (and reused) without a window.
"""
