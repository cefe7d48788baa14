"""WSGI entry for gunicorn / flask run."""

from server.app import create_app

app = create_app()
