"""Async I/O classes of the Streams layer (sources of the generated ``_sync`` twins)."""
