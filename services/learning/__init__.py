"""Training and evaluation data plumbing for the learned detector (`hybridwatch train`).

Reads the labelled JSONL files, fits the models with scikit-learn and writes the
weights file the detector loads (detectors/learned_model.py). Nothing here runs in
a streaming runtime.
"""
