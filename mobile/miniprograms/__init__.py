"""Mini-programs: one package per role family, discovered by mobile.ui.registry.

To add one, create `mobile/miniprograms/<name>/__init__.py` defining
`MINIPROGRAM = MiniProgram(...)`, with a module + .kv per screen and i18n/<lang>.json.
"""
