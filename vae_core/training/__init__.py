"""What the trainers share: the epoch loop and its clock, precision, device defaults, flags, the run folder, EM."""
