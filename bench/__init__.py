"""Loopin's benchmark suite: seed data at scale, drive it with wrk, compare with the floor."""
