"""The downstream classifiers (Sect. 6.3): their heads and their training on the core fitting loop."""
