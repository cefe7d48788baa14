"""Protocol code both the server and the phone must agree on.

Pure Python: no Flask, no Kivy, no database. If the server and the phone
disagree about a byte here, authentication or decryption fails.
"""
