"""A shim: the package's metadata lives in pyproject.toml (PEP 621). `pip install .` reads it
from there; this file stays for tools and habits that still call setup.py."""
from setuptools import setup

setup()
