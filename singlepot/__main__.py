"""Lets `python -m singlepot` run the command line."""

from singlepot.cli import app

app()
