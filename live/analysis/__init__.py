"""What the sound means per frame: levels, bands and onsets (features), the learned beat activation
(beat_net + beat_net.npz), the causal beat tracker (beats), and the clock that runs them on one
stream and hands drawing its per-frame record (clock: Analyzer, FeatureClock, Drive). numpy only:
it takes arrays, never decodes."""
