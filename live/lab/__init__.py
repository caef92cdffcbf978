"""Programs that measure or train: the benches behind `python -m live bench`, the beat corpora
(midi_corpus, hard_corpus, tunes_corpus) and their scorers (beat_eval, bar_eval), the beat network
trainer (beat_train), and a private JACK dummy server for tests and benches (jackdummy). Only
`__main__` and the tests import these."""
