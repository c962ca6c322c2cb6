"""Project-level pytest settings: the bench plugin is loaded through its entry point
(pytest11: bench); suites choose their bench with --bench (default fixtures/benches/virtual.yaml)."""
