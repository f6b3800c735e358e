#!/bin/sh
# Spins until its CPU limit stops it.
while :; do :; done
