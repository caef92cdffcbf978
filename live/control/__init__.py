"""Control input: one table of named actions and ranged parameters (surface), reached from the
keys, from MIDI controllers (midi: mido + python-rtmidi, ALSA or JACK) and from OSC (osc:
python-osc, in a child process so a flood never slows the picture). Standard library, mido and
python-osc only: never torch, GL, models or audio."""
