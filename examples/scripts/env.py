#!/usr/bin/env python3
"""Prints the CGI environment the script was given, one NAME=VALUE per line."""
import os
import sys

sys.stdout.write("Content-Type: text/plain\r\n\r\n")
sys.stdout.write(f"# working directory: {os.getcwd()}\n")
for name in sorted(os.environ):
    sys.stdout.write(f"{name}={os.environ[name]}\n")
