"""Scheduled jobs: the nightly surveillance run and the weekly clinic report, and the daemon."""
