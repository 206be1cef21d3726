"""Discrete-latent models trained with the `estimators` package: sigmoid
belief networks (linear and nonlinear, as in the REBAR and RELAX papers),
a categorical VAE, and Helmholtz machines trained by (reweighted)
wake-sleep."""
