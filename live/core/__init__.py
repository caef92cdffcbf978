"""The ground every part stands on: errors and the one CLI exit path (errors), logging (logs), stage
timers (timing), the constants all stages agree on (defaults: SAMPLE_RATE, model ids, paths), and the
latency profiles (profiles + profiles/*.toml). Standard library only."""
