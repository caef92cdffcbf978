"""Programs that measure or train: the benches behind `python -m live bench`, the beat corpus and
scorer (beat_eval), the beat network trainer (beat_train), and a private JACK dummy server for tests
and benches (jackdummy). Only `__main__` and the tests import these."""
