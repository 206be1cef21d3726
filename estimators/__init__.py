"""Gradient estimators for stochastic computation graphs, one interface."""
