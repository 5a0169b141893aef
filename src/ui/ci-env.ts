/**
 * Imported before Ink. Ink reads CI and CONTINUOUS_INTEGRATION once, when
 * it loads (is-in-ci), and in CI mode renders only the final frame, which
 * leaves an interactive UI blank. We only start the UI when stdin and
 * stdout are terminals, so a terminal is what we have: a CI variable left in
 * a developer's shell (or a CI job driving the UI under tmux) must not turn
 * live rendering off.
 */
if (process.stdout.isTTY) {
  delete process.env.CI;
  delete process.env.CONTINUOUS_INTEGRATION;
}
export {};
