"""DSP control-plane benchmark: ``python -m bench.dsp``."""
