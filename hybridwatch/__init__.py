"""hybridwatch: watch Western Balkans news for disinformation and hybrid-threat signals."""

__version__ = "0.1.0"
